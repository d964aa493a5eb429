// Type definitions for qcloud-weapp-client-sdk (the Wafer client SDK, Rust + WebAssembly).

export interface WxResponse<T = any> {
  data: T;
  /** A number (some Android versions gave a numeric string). */
  statusCode: number | string;
  header: Record<string, string>;
  [key: string]: any;
}

export interface WaferError extends Error {
  /** One of the ERR_* values. */
  type: string;
  message: string;
  /** The wx error or server response behind it. */
  detail?: any;
}
export interface LoginErrorConstructor {
  new (type: string, message: string, detail?: any): WaferError;
  prototype: WaferError;
}
export const LoginError: LoginErrorConstructor;
export const RequestError: LoginErrorConstructor;

export interface UserDetail {
  userInfo?: any;
  encryptedData?: string;
  iv?: string;
}

export interface LoginOptions {
  /** Overrides the URL set with setLoginUrl. */
  loginUrl?: string;
  method?: string;
  data?: any;
  /** `e.detail` of a `<button open-type="getUserInfo">` tap or the result of `wx.getUserProfile`. */
  detail?: UserDetail;
  userInfo?: any;
  encryptedData?: string;
  iv?: string;
  /** Send only the wx.login code. */
  codeOnly?: boolean;
  /** Overall deadline in ms (default 30000); then ERR_LOGIN_TIMEOUT. */
  timeout?: number;
  success?(userInfo: any): void;
  fail?(error: WaferError): void;
  complete?(result: any): void;
}

export interface RequestOptions {
  url: string;
  /** Log in first (free when a session is stored); a login it needs uses wx.getUserInfo. */
  login?: boolean;
  /** Overrides the URL set with setLoginUrl, for a login this request needs. */
  loginUrl?: string;
  /** Deadline in ms of a login this request needs (default 30000). */
  timeout?: number;
  fail?(error: WaferError): void;
  header?: Record<string, string>;
  method?: string;
  data?: any;
  dataType?: string;
  responseType?: string;
  [key: string]: any;
  success?(response: WxResponse): void;
  complete?(result: WxResponse | WaferError): void;
}

export interface InitOptions {
  /** Path of the wasm file inside the code package (`.wasm` or `.wasm.br`). */
  wasmPath?: string;
  /** The module bytes (or a Promise of them), for browsers. */
  bytes?: BufferSource | Promise<BufferSource>;
  module?: WebAssembly.Module;
  /** The wx API object to use instead of the global `wx`. */
  wx?: any;
}

export function init(options?: InitOptions): Promise<any>;
export const ready: Promise<any>;
export const DEFAULT_WASM_PATH: string;
export function setLoginUrl(url: string): void;
export function login(options: LoginOptions & ({ success: Function } | { fail: Function } | { complete: Function })): void;
export function login(options?: LoginOptions): Promise<any>;
export function loginWithCode(options: LoginOptions & ({ success: Function } | { fail: Function } | { complete: Function })): void;
export function loginWithCode(options?: LoginOptions): Promise<any>;
export function request(options: RequestOptions & ({ success: Function } | { fail: Function } | { complete: Function })): void;
export function request(options: RequestOptions): Promise<WxResponse>;
export function clearSession(): void;
export function buildSessionHeader(): Record<string, string>;
export const Session: { get(): any; set(session: any): void; clear(): void };

export interface TunnelOptions {
  backoff?: 'linear' | 'exponential';
  backoffCap?: number;
  jitter?: boolean;
  maxQueue?: number;
  heartbeat?: number;
}
export interface TunnelErrorEvent { code: number; message: string; detail?: any }

export class Tunnel {
  constructor(serviceUrl: string, options?: TunnelOptions);
  static STATUS_CLOSED: 'CLOSED';
  static STATUS_CONNECTING: 'CONNECTING';
  static STATUS_ACTIVE: 'ACTIVE';
  static STATUS_RECONNECTING: 'RECONNECTING';
  static ERR_CONNECT_SERVICE: 1001;
  static ERR_CONNECT_SOCKET: 1002;
  static ERR_RECONNECT: 2001;
  static ERR_SOCKET_ERROR: 3001;
  static ERR_QUEUE_FULL: 4001;
  static ERR_UNSENT: 4002;
  static ERR_LISTENER: 5001;
  static MAX_RECONNECT_TRY_TIMES: number;
  static RECONNECT_TIME_INCREASE: number;
  readonly serviceUrl: string;
  readonly socketUrl: string | null;
  readonly status: 'CLOSED' | 'CONNECTING' | 'ACTIVE' | 'RECONNECTING';
  open(): void;
  close(): void;
  emit(type: string, content?: any): void;
  on(type: 'error', listener: (error: TunnelErrorEvent) => void): this;
  on(type: '*', listener: (type: string, payload: any) => void): this;
  on(type: string, listener: (payload: any) => void): this;
  off(type: string, listener?: Function): this;
  isClosed(): boolean;
  isConnecting(): boolean;
  isActive(): boolean;
  isReconnecting(): boolean;
}

export const ERR_INVALID_PARAMS: 'ERR_INVALID_PARAMS';
export const ERR_WX_LOGIN_FAILED: 'ERR_WX_LOGIN_FAILED';
export const ERR_WX_GET_USER_INFO: 'ERR_WX_GET_USER_INFO';
export const ERR_LOGIN_TIMEOUT: 'ERR_LOGIN_TIMEOUT';
export const ERR_LOGIN_FAILED: 'ERR_LOGIN_FAILED';
export const ERR_LOGIN_SESSION_NOT_RECEIVED: 'ERR_LOGIN_MISSING_SESSION';
export const ERR_INVALID_SESSION: 'ERR_INVALID_SESSION';
export const ERR_CHECK_LOGIN_FAILED: 'ERR_CHECK_LOGIN_FAILED';
export const ERR_REQUEST_FAILED: 'ERR_REQUEST_FAILED';
export const ERR_SDK_LOAD_FAILED: 'ERR_SDK_LOAD_FAILED';
