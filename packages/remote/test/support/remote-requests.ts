import { subscribe, type RemoteRequestMessage } from '@rxml/core';
import { afterAll, afterEach, beforeAll } from 'vitest';

/**
 * The `rxml:remote:request` messages of the calling test file: subscribed for the whole file,
 * emptied after each test. Call at the top level of the file.
 */
export function collectRemoteRequests(): RemoteRequestMessage[] {
  const requests: RemoteRequestMessage[] = [];
  let unsubscribe: (() => void) | undefined;
  beforeAll(() => {
    unsubscribe = subscribe('rxml:remote:request', (m) => requests.push(m));
  });
  afterAll(() => unsubscribe?.());
  afterEach(() => {
    requests.length = 0;
  });
  return requests;
}
