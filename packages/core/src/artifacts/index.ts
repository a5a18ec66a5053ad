export { describeSource, isHttpUrl, locationOf, readBytes, type ByteSource, type ReadBytesOptions } from './read-bytes.js';
export { contentVersion } from './version.js';
