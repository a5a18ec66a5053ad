import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { RxmlError } from '../../contract/errors.js';

function isInside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Resolves `path` under `root` and returns the real path of an existing regular file inside it.
 * `..` escapes, absolute paths elsewhere and symlinks whose target lies outside are refused with
 * `INVALID_INPUT` before anything is opened.
 */
export async function resolveUnderRoot(root: string, path: string): Promise<string> {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    throw new RxmlError('INVALID_INPUT', 'image path must be a non-empty string');
  }
  const realRoot = await realpath(resolve(root)).catch((error: unknown) => {
    throw new RxmlError('INVALID_INPUT', `image root ${root} does not exist`, { cause: error });
  });
  const lexical = resolve(realRoot, path);
  if (!isInside(realRoot, lexical)) {
    throw new RxmlError('INVALID_INPUT', `image path ${JSON.stringify(path)} is outside the root`);
  }
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (error) {
    throw new RxmlError('INVALID_INPUT', `image path ${JSON.stringify(path)} does not exist`, { cause: error });
  }
  if (!isInside(realRoot, real)) {
    throw new RxmlError('INVALID_INPUT', `image path ${JSON.stringify(path)} leads outside the root (symlink)`);
  }
  return real;
}

/**
 * Reads a regular file of at most `maxBytes`. The size is checked on the open handle before any
 * byte is read, so an oversized file costs nothing; `O_NOFOLLOW` refuses a symlink swapped in after
 * the real-path check.
 */
export async function readBoundedFile(path: string, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw new RxmlError('INVALID_INPUT', `cannot open image: ${(error as Error).message}`, { cause: error });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new RxmlError('INVALID_INPUT', 'image path is not a regular file');
    if (info.size > maxBytes) {
      throw new RxmlError('LIMIT_EXCEEDED', `image file is ${info.size} bytes, over maxInputBytes ${maxBytes} bytes (option maxInputBytes)`);
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
