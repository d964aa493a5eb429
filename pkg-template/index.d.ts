// Type definitions for qcloud-weapp-client-sdk (the Wafer client SDK, Rust + WebAssembly).
//
// For TypeScript mini-programs: they need the WeChat API types (`WechatMiniprogram`, npm
// `miniprogram-api-typings`, in tsconfig `types`) and nothing from the DOM lib. Works with
// `import qcloud = require('qcloud-weapp-client-sdk')`, `import * as qcloud from …` and,
// with `esModuleInterop`, `import qcloud from …`.

declare namespace qcloud {
  /** The `.type` of a `LoginError` / `RequestError`: one of the `ERR_*` values. */
  type ErrorType =
    | 'ERR_INVALID_PARAMS'
    | 'ERR_WX_LOGIN_FAILED'
    | 'ERR_WX_GET_USER_INFO'
    | 'ERR_LOGIN_TIMEOUT'
    | 'ERR_LOGIN_FAILED'
    | 'ERR_LOGIN_MISSING_SESSION'
    | 'ERR_INVALID_SESSION'
    | 'ERR_CHECK_LOGIN_FAILED'
    | 'ERR_REQUEST_FAILED'
    | 'ERR_SDK_LOAD_FAILED';

  /** Errors of `login` / `loginWithCode`, and of the login a `request` needed. */
  class LoginError extends Error {
    constructor(type: ErrorType, message: string, detail?: any);
    type: ErrorType;
    /** The wx error or the server response behind it. */
    detail?: any;
    /** The wx error's `errMsg`, when the detail is one. */
    errMsg?: string;
  }
  /** Errors of `request` itself. */
  class RequestError extends Error {
    constructor(type: ErrorType, message: string, detail?: any);
    type: ErrorType;
    /** The wx error or the server response behind it. */
    detail?: any;
    /** The wx error's `errMsg`, when the detail is one. */
    errMsg?: string;
  }

  // ---------------------------------------------------------------- session service
  /** What `wx.request` may answer as `data`. */
  type ResponseData = string | WechatMiniprogram.IAnyObject | ArrayBuffer;
  /** The `wx.request` response, handed over unchanged. */
  type RequestResponse<T extends ResponseData = any> = WechatMiniprogram.RequestSuccessCallbackResult<T>;

  /** `e.detail` of a `<button open-type="getUserInfo">` tap, or the result of `wx.getUserProfile`. */
  interface UserDetail {
    userInfo?: WechatMiniprogram.UserInfo;
    encryptedData?: string;
    iv?: string;
    [key: string]: any;
  }

  interface LoginOptions<U = any> {
    /** Overrides the URL set with `setLoginUrl`. */
    loginUrl?: string;
    /** Method of the login request (default `GET`). */
    method?: string;
    /** `data` of the login request, passed to `wx.request` unchanged. */
    data?: string | WechatMiniprogram.IAnyObject | ArrayBuffer;
    /** Log in with this user data instead of calling `wx.getUserInfo`. */
    detail?: UserDetail;
    userInfo?: WechatMiniprogram.UserInfo;
    encryptedData?: string;
    iv?: string;
    /** Send only the wx.login code (same as `loginWithCode`). */
    codeOnly?: boolean;
    /** Overall deadline in ms (default 30000); then `ERR_LOGIN_TIMEOUT`. */
    timeout?: number;
    /** The user info: wx's for a v1 server, the server's `userinfo` for a v2 one. */
    success?(userInfo: U): void;
    fail?(error: LoginError): void;
    complete?(result: U | LoginError): void;
  }

  interface RequestOptions<T extends ResponseData = any>
    extends Omit<WechatMiniprogram.RequestOption<T>, 'success' | 'fail' | 'complete'> {
    /** Log in first when there is no session (a login it needs uses wx.getUserInfo). */
    login?: boolean;
    /** Overrides the URL set with `setLoginUrl`, for a login this request needs. */
    loginUrl?: string;
    /** Deadline in ms of a login this request needs (default 30000); also given to `wx.request`. */
    timeout?: number;
    success?(response: RequestResponse<T>): void;
    /** A `RequestError`, or the `LoginError` of the login the request needed. */
    fail?(error: RequestError | LoginError): void;
    complete?(result: RequestResponse<T> | RequestError | LoginError): void;
  }

  /** The stored session: v1 `{id, skey, userInfo}`, v2 the server's whole `data`. */
  interface SessionValue {
    skey: string;
    id?: string;
    userInfo?: any;
    [key: string]: any;
  }

  /** Session headers for a request of your own (a v2 session has only `X-WX-Skey`). */
  interface SessionHeader {
    'X-WX-Id'?: string;
    'X-WX-Skey'?: string;
  }

  function setLoginUrl(url: string): void;
  /** Something that takes debug lines: a function, or an object with `info` (`console`, `wx.getRealtimeLogManager()`). */
  type Logger = ((line: string) => void) | { info(...args: any[]): void };
  /**
   * Turns the debug log on (one line per protocol step, with the session key, codes and
   * encrypted data masked) or off (`null`, the default).
   */
  function setLogger(logger: Logger | null): void;

  function login<U = any>(options: LoginOptions<U> & { success(userInfo: U): void }): void;
  function login<U = any>(options: LoginOptions<U> & { fail(error: LoginError): void }): void;
  function login<U = any>(options: LoginOptions<U> & { complete(result: U | LoginError): void }): void;
  /** Without `success`, `fail` and `complete`: a Promise of the user info. */
  function login<U = any>(options?: LoginOptions<U>): Promise<U>;

  function loginWithCode<U = any>(options: LoginOptions<U> & { success(userInfo: U): void }): void;
  function loginWithCode<U = any>(options: LoginOptions<U> & { fail(error: LoginError): void }): void;
  function loginWithCode<U = any>(options: LoginOptions<U> & { complete(result: U | LoginError): void }): void;
  function loginWithCode<U = any>(options?: LoginOptions<U>): Promise<U>;

  /** `wx.request` with the session; `T` is the type of the response's `data`. */
  function request<T extends ResponseData = any>(
    options: RequestOptions<T> & { success(response: RequestResponse<T>): void }): void;
  function request<T extends ResponseData = any>(
    options: RequestOptions<T> & { fail(error: RequestError | LoginError): void }): void;
  function request<T extends ResponseData = any>(
    options: RequestOptions<T> & { complete(result: RequestResponse<T> | RequestError | LoginError): void }): void;
  /** Without `success`, `fail` and `complete`: a Promise of the response. */
  function request<T extends ResponseData = any>(options: RequestOptions<T>): Promise<RequestResponse<T>>;

  function clearSession(): void;
  /** Needs the module loaded (`qcloud.ready`); throws before. */
  function buildSessionHeader(): SessionHeader;
  /** wafer2's session API; `get` and `set` need the module loaded (`qcloud.ready`). */
  const Session: {
    get(): SessionValue | null;
    set(session: SessionValue): void;
    clear(): void;
  };

  // ---------------------------------------------------------------- loading
  /** wasm module bytes (an ArrayBuffer or a typed array / DataView over one). */
  type WasmBytes = ArrayBuffer | ArrayBufferView;

  interface InitOptions {
    /** Path of the wasm file inside the code package (`.wasm` or `.wasm.br`). */
    wasmPath?: string;
    /** The module bytes, or a Promise of them (browsers). */
    bytes?: WasmBytes | PromiseLike<WasmBytes>;
    /** An already compiled `WebAssembly.Module` (browsers, Node.js). */
    module?: object;
    /** The wx API object to use instead of the global `wx` (Node.js, browsers, tests). */
    wx?: Partial<WechatMiniprogram.Wx> | { [name: string]: any };
    /** Clock and timers to use instead of the global ones (tests on a simulated clock). */
    clock?: {
      now(): number;
      setTimeout(callback: () => void, ms: number): any;
      clearTimeout(handle: any): void;
    };
  }

  /** Starts loading now; call it right after `require`, in the same tick. */
  function init(options?: InitOptions): Promise<typeof qcloud>;
  /** Resolves once the wasm module is loaded; rejects with a `LoginError` (`ERR_SDK_LOAD_FAILED`). */
  const ready: Promise<typeof qcloud>;
  /** Where this copy looks for its wasm module by default (bower or npm layout). */
  const DEFAULT_WASM_PATH: string;

  // ---------------------------------------------------------------- tunnel service
  interface TunnelOptions {
    backoff?: 'linear' | 'exponential';
    /** Cap of the exponential backoff in ms (default 30000). */
    backoffCap?: number;
    /** Randomize exponential waits (default true). */
    jitter?: boolean;
    /** Packets queued while not connected (default 10000). */
    maxQueue?: number;
    /** Heartbeat interval in ms (default 15000). */
    heartbeat?: number;
    /** A socket not open within this many ms counts as failed (default 15000). */
    openTimeout?: number;
    /**
     * Announce the resume extension (docs/RESUME.md, default true): with a service that
     * answers it (wafer-services), a lost socket comes back to the same tunnel and no
     * message is lost or doubled; with any other service nothing changes.
     */
    resume?: boolean;
    /** Messages kept for a replay after a resume until the service acknowledges them (default 1024). */
    maxUnacked?: number;
  }

  type TunnelStatus = 'CLOSED' | 'CONNECTING' | 'ACTIVE' | 'RECONNECTING';
  /** A packet of `emit`. */
  interface TunnelPacket {
    type: string;
    content?: any;
  }
  /** Payload of the `error` event. */
  type TunnelError =
    | { code: 1001 | 1002 | 2001 | 3001; message: string; detail?: any }
    /** `emit` refused a packet: the queue is full. */
    | { code: 4001; message: string; detail: TunnelPacket }
    /** Packets still queued when the tunnel closed, in order. */
    | { code: 4002; message: string; detail: TunnelPacket[] }
    /** A listener threw: the exception. */
    | { code: 5001; message: string; detail: any };

  class Tunnel {
    constructor(serviceUrl: string, options?: TunnelOptions);
    static readonly STATUS_CLOSED: 'CLOSED';
    static readonly STATUS_CONNECTING: 'CONNECTING';
    static readonly STATUS_ACTIVE: 'ACTIVE';
    static readonly STATUS_RECONNECTING: 'RECONNECTING';
    static readonly ERR_CONNECT_SERVICE: 1001;
    static readonly ERR_CONNECT_SOCKET: 1002;
    static readonly ERR_RECONNECT: 2001;
    static readonly ERR_SOCKET_ERROR: 3001;
    static readonly ERR_QUEUE_FULL: 4001;
    static readonly ERR_UNSENT: 4002;
    static readonly ERR_LISTENER: 5001;
    /** Read when a tunnel is constructed (default 5). */
    static MAX_RECONNECT_TRY_TIMES: number;
    /** Read when a tunnel is constructed (default 1000 ms). */
    static RECONNECT_TIME_INCREASE: number;
    readonly serviceUrl: string;
    readonly socketUrl: string | null;
    readonly status: TunnelStatus;
    open(): void;
    close(): void;
    /** Sends `{type, content}` (queued while not active); throws if `content` is not JSON-able. */
    emit(type: string, content?: any): void;
    on(type: 'connect' | 'close' | 'reconnecting' | 'reconnect', listener: () => void): this;
    on(type: 'error', listener: (error: TunnelError) => void): this;
    /** Every event and message: its name (`@`-prefixed for a message named like an event) and payload. */
    on(type: '*', listener: (type: string, payload: any) => void): this;
    /** A server message type: the listener gets the message's `content`, typed `T`. */
    on<T = any>(type: string, listener: (content: T) => void): this;
    off(type: string, listener?: (...args: any[]) => void): this;
    isClosed(): boolean;
    isConnecting(): boolean;
    isActive(): boolean;
    isReconnecting(): boolean;
  }

  // ---------------------------------------------------------------- error values
  const ERR_INVALID_PARAMS: 'ERR_INVALID_PARAMS';
  const ERR_WX_LOGIN_FAILED: 'ERR_WX_LOGIN_FAILED';
  const ERR_WX_GET_USER_INFO: 'ERR_WX_GET_USER_INFO';
  const ERR_LOGIN_TIMEOUT: 'ERR_LOGIN_TIMEOUT';
  const ERR_LOGIN_FAILED: 'ERR_LOGIN_FAILED';
  /** The one key whose value differs from its name. */
  const ERR_LOGIN_SESSION_NOT_RECEIVED: 'ERR_LOGIN_MISSING_SESSION';
  const ERR_INVALID_SESSION: 'ERR_INVALID_SESSION';
  const ERR_CHECK_LOGIN_FAILED: 'ERR_CHECK_LOGIN_FAILED';
  const ERR_REQUEST_FAILED: 'ERR_REQUEST_FAILED';
  const ERR_SDK_LOAD_FAILED: 'ERR_SDK_LOAD_FAILED';
  /** wafer2's name for an invalid session; this SDK reports `ERR_INVALID_SESSION` instead. */
  const ERR_SESSION_INVALID: 'ERR_SESSION_INVALID';
}

export = qcloud;
