import type { TestProject } from 'vitest/node';
import { kserve, mlserver, setupModelServers } from './support/model-servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** MLServer: v2 REST base URL and v2 gRPC host:port. */
    mlserver: { httpUrl: string; grpcUrl: string };
    /** KServe model server: base URL (v1 :predict and v2 REST). */
    kserve: { httpUrl: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  setupModelServers();
  const [mls, ks] = [await mlserver(), await kserve()];
  await Promise.all([mls.start(), ks.start()]);
  project.provide('mlserver', { httpUrl: mls.httpUrl, grpcUrl: mls.grpcUrl! });
  project.provide('kserve', { httpUrl: ks.httpUrl });
  return async () => {
    await Promise.all([mls.stop(), ks.stop()]);
  };
}
