// A TypeScript mini-program page using the SDK the way its README does, under a strict
// mini-program tsconfig. Lines marked @ts-expect-error must NOT compile: they prove the
// types are precise (tsc fails on an unused @ts-expect-error).
import qcloud = require('qcloud-weapp-client-sdk');

interface User { nickName: string; avatarUrl: string }
interface Echo { code: number; headers: Record<string, string> }
interface Speak { who: User; word: string }

qcloud.init({ wasmPath: '/miniprogram_npm/qcloud-weapp-client-sdk/lib/qcloud.wasm.br' });
qcloud.init({ wx, clock: { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h) } });
qcloud.init({ bytes: new Uint8Array(8) });
qcloud.init({ bytes: Promise.resolve(new ArrayBuffer(8)), module: {} });
// @ts-expect-error: a wasm path is a string
qcloud.init({ wasmPath: 1 });
const path: string = qcloud.DEFAULT_WASM_PATH;

qcloud.setLoginUrl('https://example.com/login');
qcloud.setLogger((line: string) => console.log(line));
qcloud.setLogger(null);

Page({
  data: { me: null as User | null, error: '', status: 'CLOSED' as qcloud.TunnelStatus, words: [] as string[] },
  tunnel: null as qcloud.Tunnel | null,

  onLoad() {
    // Callback form: parameters typed from the options.
    qcloud.login<User>({
      timeout: 10000,
      success: (userInfo) => { this.setData({ me: userInfo }); },
      fail: (err) => {
        const type: qcloud.ErrorType = err.type;
        if (err.type === qcloud.ERR_LOGIN_TIMEOUT) this.setData({ error: '登录超时' });
        else this.setData({ error: type + err.message + (err.errMsg || '') });
      },
    });
    qcloud.loginWithCode({ complete: (result) => { if (result instanceof qcloud.LoginError) console.error(result.detail); } });
    qcloud.login({ detail: { userInfo: { nickName: 'n', avatarUrl: '', gender: 0, country: '', province: '', city: '', language: 'zh_CN' }, encryptedData: 'e', iv: 'i' } });

    // request<T>: `data` typed, statusCode a number.
    qcloud.request<Echo>({
      url: 'https://example.com/api/echo',
      method: 'POST',
      data: { hello: 'world' },
      header: { 'X-Trace': '1' },
      login: true,
      success: (res) => {
        const code: number = res.statusCode;
        const echoed: number = res.data.code;
        const header: string = res.data.headers['X-WX-Skey'];
        console.log(code, echoed, header, res.header, res.errMsg);
      },
      fail: (err) => {
        if (err instanceof qcloud.RequestError && err.type === qcloud.ERR_REQUEST_FAILED) console.error(err.errMsg);
      },
    });
    // @ts-expect-error: not a wx.request method
    qcloud.request({ url: 'https://example.com/x', method: 'FETCH' });
    // @ts-expect-error: url is required
    qcloud.request({ login: true });
  },

  async onWhoAmI() {
    try {
      const res = await qcloud.request<{ userInfo: User }>({ url: 'https://example.com/user', login: true });
      const status: number = res.statusCode;
      // @ts-expect-error: statusCode is a number
      const asString: string = res.statusCode;
      this.setData({ me: res.data.userInfo, error: String(status) + asString });
      const user: User = await qcloud.login<User>();
      console.log(user.nickName);
    } catch (e) {
      const err = e as qcloud.RequestError;
      // @ts-expect-error: ours never reports wafer2's ERR_SESSION_INVALID (it says ERR_INVALID_SESSION)
      if (err.type === 'ERR_SESSION_INVALID') console.error('never');
      if (err.type === qcloud.ERR_INVALID_SESSION || err.type === qcloud.ERR_LOGIN_SESSION_NOT_RECEIVED) qcloud.clearSession();
    }
  },

  async onHeader() {
    await qcloud.ready;
    const header: qcloud.SessionHeader = qcloud.buildSessionHeader();
    const skey: string | undefined = header['X-WX-Skey'];
    const session = qcloud.Session.get();
    if (session) qcloud.Session.set({ skey: session.skey, id: session.id });
    // @ts-expect-error: a session needs an skey
    qcloud.Session.set({ id: 'x' });
    console.log(skey);
  },

  openTunnel() {
    const tunnel = this.tunnel = new qcloud.Tunnel('https://example.com/tunnel', { backoff: 'exponential', maxQueue: 100, openTimeout: 5000 });
    tunnel
      .on('connect', () => this.setData({ status: tunnel.status }))
      .on('reconnecting', () => this.setData({ status: tunnel.status }))
      .on('reconnect', () => this.setData({ status: tunnel.status }))
      .on('close', () => this.setData({ status: tunnel.status }))
      .on('error', (error) => {
        const code: number = error.code;
        if (error.code === qcloud.Tunnel.ERR_UNSENT) {
          const unsent: string[] = error.detail.map((p) => p.type);
          console.warn(unsent);
        } else if (error.code === 4001) {
          const refused: string = error.detail.type;
          console.warn(refused);
        }
        this.setData({ error: code + error.message });
      })
      .on<Speak>('speak', (speak) => { this.setData({ words: this.data.words.concat(speak.who.nickName + speak.word) }); })
      .on('*', (type, payload) => console.log(type, payload));
    // @ts-expect-error: the error payload has no `errMsg`
    tunnel.on('error', (error) => console.log(error.errMsg));
    const state: 'CLOSED' | 'CONNECTING' | 'ACTIVE' | 'RECONNECTING' = tunnel.status;
    const url: string | null = tunnel.socketUrl;
    tunnel.open();
    tunnel.emit('speak', { word: 'hello' });
    tunnel.off('speak');
    if (tunnel.isActive() || tunnel.isConnecting() || tunnel.isReconnecting() || tunnel.isClosed()) console.log(state, url);
    const codes: number[] = [qcloud.Tunnel.ERR_CONNECT_SERVICE, qcloud.Tunnel.ERR_QUEUE_FULL, qcloud.Tunnel.ERR_UNSENT, qcloud.Tunnel.ERR_LISTENER];
    qcloud.Tunnel.MAX_RECONNECT_TRY_TIMES = 3;
    console.log(codes, path);
  },

  onUnload() {
    if (this.tunnel) this.tunnel.close();
  },
});

// A LoginError is a real Error with a typed `type`.
const e = new qcloud.LoginError(qcloud.ERR_LOGIN_FAILED, '登录失败');
const asError: Error = e;
// @ts-expect-error: not an ERR_* value
new qcloud.RequestError('ERR_NOPE', 'x');
console.log(asError.message);
