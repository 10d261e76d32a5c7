/**
 * One swappable reference: what a config reload replaces. A request reads `current` once when it
 * starts and keeps what it read, so a swap changes what new requests see and never what a request
 * in flight (a stream) is using.
 */
export class Live<T> {
  constructor(public current: T) {}
}
