// One unix datagram socket to the service manager's $NOTIFY_SOCKET. Bun has no unix datagram API,
// so this calls libc through bun:ffi. Loaded only when NOTIFY_SOCKET is set (see serve.ts).
import { dlopen, FFIType, read } from "bun:ffi";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
/** Never block the event loop on a full receive queue: a lost ping beats a stalled gateway. */
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sun_path) on Linux. */
const SUN_PATH_MAX = 108;

/** Why a datagram was not sent; `full`: the manager's receive queue is full (EAGAIN), worth another try. */
export interface SendFailure {
  text: string;
  full: boolean;
}

/** A datagram sender; `send` answers a failure instead of throwing, so a caller decides once how loud to be. */
export interface NotifySocket {
  send(message: string): SendFailure | undefined;
  close(): void;
}

const EAGAIN = 11;

/**
 * The `sockaddr_un` for `address`: sun_family (u16, host order) then the path. An address starting
 * with `@` is Linux's abstract namespace, spelt with a leading NUL and not NUL-terminated, so its
 * length counts exactly its bytes. Exported for the tests.
 */
export function sockaddrUn(address: string): Buffer {
  if (!address.startsWith("/") && !address.startsWith("@")) throw new Error(`NOTIFY_SOCKET must be an absolute path or @abstract name`);
  const abstract = address.startsWith("@");
  const path = Buffer.from(abstract ? `\0${address.slice(1)}` : `${address}\0`);
  if (path.length > SUN_PATH_MAX) throw new Error(`NOTIFY_SOCKET is longer than ${SUN_PATH_MAX} bytes`);
  const addr = Buffer.alloc(2 + path.length);
  addr.writeUInt16LE(AF_UNIX, 0);
  path.copy(addr, 2);
  return addr;
}

function libc() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    strerror: { args: [FFIType.i32], returns: FFIType.cstring },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}

/** Opens the socket once; every message reuses it. Throws (with errno's text) if it cannot. */
export function openNotifySocket(address: string): NotifySocket {
  const addr = sockaddrUn(address);
  const c = libc();
  const lastErrno = () => {
    const at = c.__errno_location();
    return at === null ? 0 : read.i32(at, 0);
  };
  const describe = (errno: number) => `${c.strerror(errno)} (errno ${errno})`;
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket(AF_UNIX, SOCK_DGRAM): ${describe(lastErrno())}`);
  let open = true;
  return {
    send(message) {
      if (!open) return { text: "socket closed", full: false };
      const bytes = Buffer.from(message);
      const sent = Number(c.sendto(fd, bytes, bytes.length, MSG_DONTWAIT | MSG_NOSIGNAL, addr, addr.length));
      if (sent === bytes.length) return undefined;
      if (sent >= 0) return { text: `sendto ${address}: short write`, full: false };
      const errno = lastErrno();
      return { text: `sendto ${address}: ${describe(errno)}`, full: errno === EAGAIN };
    },
    close() {
      if (open) (open = false), c.close(fd);
    },
  };
}
