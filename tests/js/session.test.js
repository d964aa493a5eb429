// The session service through the public API (setLoginUrl, login, loginWithCode, request,
// clearSession, buildSessionHeader, Session), in the simulated mini-program runtime with a
// fake wx. Every call is checked both with callbacks and as a Promise where it matters.
'use strict';
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { ROOT, bowerInstall, remove } = require('./sim/install');
const { MAGIC, SESSION_KEY, loadSdk, plain } = require('./sim/sdk');

const LOGIN_URL = 'https://example.com/login';
const OTHER_LOGIN_URL = 'https://other.example.com/login';
const API_URL = 'https://example.com/api';
const USER = { nickName: '测试用户' };
const MODES = ['callbacks', 'promise'];

let dir;
before(() => { dir = bowerInstall(path.join(ROOT, 'pkg')); });
after(() => remove(dir));

const isLogin = (o) => /\/login$/.test(o.url);
const loginRequests = (fake) => fake.calls.request.filter(isLogin);
const apiRequests = (fake) => fake.calls.request.filter((o) => !isLogin(o));
const v1Body = (n) => ({ [MAGIC]: 1, session: { id: 'id-' + n, skey: 'skey-' + n } });

/**
 * A Wafer server behind the fake wx.request: `login(o, n)` answers the n-th login request
 * (default: v1 session n), `api(o, n)` the n-th other request (default: 200 echoing the
 * headers). Both can be swapped during a test.
 */
function server() {
  const srv = {
    logins: 0,
    apis: 0,
    login: (o, n) => ({ statusCode: 200, data: v1Body(n) }),
    api: (o) => ({ statusCode: 200, data: { ok: true, header: plain(o.header) } }),
  };
  srv.handlers = { request: (o) => (isLogin(o) ? srv.login(o, ++srv.logins) : srv.api(o, ++srv.apis)) };
  return srv;
}

/**
 * Loads the SDK with a `server()` on a simulated clock (`env.clock`); `setUrl` (default
 * true) calls setLoginUrl(LOGIN_URL).
 */
async function setup(t, { storage, setUrl = true, handlers = {} } = {}) {
  const srv = server();
  const env = await loadSdk(t, dir, { clock: true, handlers: Object.assign(srv.handlers, handlers), storage });
  if (setUrl) env.qcloud.setLoginUrl(LOGIN_URL);
  env.srv = srv;
  return env;
}

/**
 * Calls `fn(options)` with callbacks or as a Promise; returns {ok, value, at} (`at`: the
 * virtual time of the outcome). With callbacks it checks the wx convention: nothing
 * returned, exactly one of success/fail, then complete with the same value.
 */
async function invoke(env, mode, fn, options = {}) {
  const { clock } = env;
  if (mode === 'promise') {
    const p = fn(options);
    assert.equal(typeof (p && p.then), 'function', 'no callbacks: a Promise');
    try {
      const value = await p;
      return { ok: true, value, at: clock.now() };
    } catch (e) {
      return { ok: false, value: e, at: clock.now() };
    }
  }
  const seen = [];
  let ret;
  let at;
  await new Promise((resolve) => {
    ret = fn(Object.assign({}, options, {
      success: (v) => seen.push(['success', v]),
      fail: (e) => seen.push(['fail', e]),
      complete: (v) => { seen.push(['complete', v]); at = clock.now(); resolve(); },
    }));
  });
  await clock.advance(5); // nothing may follow complete
  assert.equal(ret, undefined, 'with callbacks: no Promise');
  assert.equal(seen.length, 2, 'one of success/fail, then complete: ' + seen.map((s) => s[0]));
  assert.ok(seen[0][0] === 'success' || seen[0][0] === 'fail');
  assert.equal(seen[1][0], 'complete');
  assert.equal(seen[1][1], seen[0][1], 'complete gets what success/fail got');
  return { ok: seen[0][0] === 'success', value: seen[0][1], at };
}

/** Asserts a failed call with a typed error of `Class` and `type`; returns the error. */
function assertError(result, qcloud, Class, type) {
  assert.equal(result.ok, false, 'expected a failure');
  const e = result.value;
  assert.ok(e instanceof qcloud[Class], `${Class} expected, got ${e && e.name}: ${e && e.message}`);
  assert.equal(Object.prototype.toString.call(e), '[object Error]');
  assert.equal(e.type, type, e.message);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  return e;
}

/** A normal login and request work (the SDK is not broken). */
async function assertStillWorks(env) {
  const { qcloud, srv } = env;
  srv.login = (o, n) => ({ statusCode: 200, data: v1Body(n) });
  srv.api = (o) => ({ statusCode: 200, data: { ok: true, header: plain(o.header) } });
  qcloud.clearSession();
  assert.deepEqual(plain(await qcloud.login()), USER);
  const res = await qcloud.request({ url: API_URL });
  assert.equal(res.data.ok, true);
  assert.equal(res.data.header['X-WX-Skey'], 'skey-' + srv.logins);
}

describe('login (v1)', () => {
  for (const mode of MODES) {
    test(`wx.login → getUserInfo → login request; session stored; success(userInfo) (${mode})`, async (t) => {
      const order = [];
      const env = await setup(t, {
        handlers: {
          login: () => { order.push('login'); return { code: 'the-code' }; },
          getUserInfo: () => { order.push('getUserInfo'); return { userInfo: USER, encryptedData: 'ENC', iv: 'IV' }; },
        },
      });
      const request = env.srv.handlers.request;
      env.fake.handlers.request = (o) => { order.push('request'); return request(o); };
      const r = await invoke(env, mode, env.qcloud.login);
      assert.equal(r.ok, true);
      assert.deepEqual(plain(r.value), USER);
      assert.deepEqual(order, ['login', 'getUserInfo', 'request']);
      const [req] = loginRequests(env.fake);
      assert.equal(req.url, LOGIN_URL);
      assert.equal(req.method, 'GET');
      assert.equal(req.data, undefined);
      assert.deepEqual(plain(req.header), { 'X-WX-Code': 'the-code', 'X-WX-Encrypted-Data': 'ENC', 'X-WX-IV': 'IV' });
      assert.deepEqual(env.fake.storage.get(SESSION_KEY), { id: 'id-1', skey: 'skey-1', userInfo: USER });
      assert.deepEqual(plain(env.qcloud.buildSessionHeader()), { 'X-WX-Id': 'id-1', 'X-WX-Skey': 'skey-1' });
    });
  }

  test('method and data of the options go to the login request', async (t) => {
    const env = await setup(t);
    await env.qcloud.login({ method: 'POST', data: { appId: 7, tags: ['a'] } });
    const [req] = loginRequests(env.fake);
    assert.equal(req.method, 'POST');
    assert.deepEqual(plain(req.data), { appId: 7, tags: ['a'] });
  });

  for (const mode of MODES) {
    test(`no login URL → LoginError ERR_INVALID_PARAMS, nothing called (${mode})`, async (t) => {
      const env = await setup(t, { setUrl: false });
      const e = assertError(await invoke(env, mode, env.qcloud.login), env.qcloud, 'LoginError', 'ERR_INVALID_PARAMS');
      assert.equal(e.type, env.qcloud.ERR_INVALID_PARAMS);
      assert.equal(env.fake.calls.login, 0);
      assert.equal(env.fake.calls.request.length, 0);
    });
  }

  test('options.loginUrl is honoured, with and without setLoginUrl', async (t) => {
    const env = await setup(t, { setUrl: false });
    assert.deepEqual(plain(await env.qcloud.login({ loginUrl: OTHER_LOGIN_URL })), USER);
    assert.deepEqual(loginRequests(env.fake).map((o) => o.url), [OTHER_LOGIN_URL]);
    env.qcloud.clearSession();
    env.qcloud.setLoginUrl(LOGIN_URL);
    await env.qcloud.login({ loginUrl: OTHER_LOGIN_URL });
    assert.deepEqual(loginRequests(env.fake).map((o) => o.url), [OTHER_LOGIN_URL, OTHER_LOGIN_URL]);
  });

  for (const mode of MODES) {
    test(`stored session + checkSession ok → success(userInfo), no wx.login, no request (${mode})`, async (t) => {
      const stored = { id: 'old-id', skey: 'old-skey', userInfo: { nickName: '老用户' } };
      const env = await setup(t, { storage: { [SESSION_KEY]: stored } });
      const r = await invoke(env, mode, env.qcloud.login);
      assert.equal(r.ok, true);
      assert.deepEqual(plain(r.value), stored.userInfo);
      assert.equal(env.fake.calls.checkSession, 1);
      assert.equal(env.fake.calls.login, 0);
      assert.equal(env.fake.calls.request.length, 0);
      assert.deepEqual(plain(env.qcloud.buildSessionHeader()), { 'X-WX-Id': 'old-id', 'X-WX-Skey': 'old-skey' });
    });
  }

  test('stored session + checkSession fails → session cleared, then a fresh login', async (t) => {
    const stored = { id: 'old-id', skey: 'old-skey', userInfo: { nickName: '老用户' } };
    const env = await setup(t, { storage: { [SESSION_KEY]: stored }, handlers: { checkSession: () => false } });
    // The login request fails: what is left in storage shows the clear.
    env.srv.login = () => ({ fail: { errMsg: 'request:fail timeout' } });
    assertError(await invoke(env, 'promise', env.qcloud.login), env.qcloud, 'LoginError', 'ERR_LOGIN_FAILED');
    assert.equal(env.fake.storage.has(SESSION_KEY), false, 'the stale session was removed');
    assert.deepEqual(plain(env.qcloud.buildSessionHeader()), {});
    // With a working server the same path logs in again.
    const env2 = await setup(t, { storage: { [SESSION_KEY]: stored }, handlers: { checkSession: () => false } });
    assert.deepEqual(plain(await env2.qcloud.login()), USER);
    assert.equal(env2.fake.calls.checkSession, 1);
    assert.equal(env2.fake.calls.login, 1);
    assert.deepEqual(env2.fake.storage.get(SESSION_KEY), { id: 'id-1', skey: 'skey-1', userInfo: USER });
  });
});

describe('login errors', () => {
  for (const mode of MODES) {
    test(`wx.login fails → ERR_WX_LOGIN_FAILED with the wx error as detail (${mode})`, async (t) => {
      const wxErr = { errMsg: 'login:fail no network' };
      const env = await setup(t, { handlers: { login: () => ({ fail: wxErr }) } });
      const e = assertError(await invoke(env, mode, env.qcloud.login), env.qcloud, 'LoginError', 'ERR_WX_LOGIN_FAILED');
      assert.equal(e.detail, wxErr);
      assert.equal(env.fake.calls.getUserInfo, 0);
      assert.equal(env.fake.calls.request.length, 0);
    });

    test(`getUserInfo fails → ERR_WX_GET_USER_INFO (${mode})`, async (t) => {
      const wxErr = { errMsg: 'getUserInfo:fail auth deny' };
      const env = await setup(t, { handlers: { getUserInfo: () => ({ fail: wxErr }) } });
      const e = assertError(await invoke(env, mode, env.qcloud.login), env.qcloud, 'LoginError', 'ERR_WX_GET_USER_INFO');
      assert.equal(e.detail, wxErr);
      assert.equal(env.fake.calls.request.length, 0);
    });

    test(`login request network failure → ERR_LOGIN_FAILED (${mode})`, async (t) => {
      const wxErr = { errMsg: 'request:fail timeout' };
      const env = await setup(t);
      env.srv.login = () => ({ fail: wxErr });
      const e = assertError(await invoke(env, mode, env.qcloud.login), env.qcloud, 'LoginError', 'ERR_LOGIN_FAILED');
      assert.equal(e.detail, wxErr);
      assert.equal(env.fake.storage.has(SESSION_KEY), false);
    });

    test(`magic id without session → ERR_LOGIN_MISSING_SESSION with the server's error and message (${mode})`, async (t) => {
      const env = await setup(t);
      env.srv.login = () => ({ statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_DECRYPT_FAIL', message: '解密失败了' } });
      const e = assertError(await invoke(env, mode, env.qcloud.login), env.qcloud, 'LoginError', 'ERR_LOGIN_MISSING_SESSION');
      assert.equal(e.type, env.qcloud.ERR_LOGIN_SESSION_NOT_RECEIVED);
      assert.match(e.message, /ERR_DECRYPT_FAIL/);
      assert.match(e.message, /解密失败了/);
      assert.equal(env.fake.storage.has(SESSION_KEY), false);
    });

    test(`no magic id → ERR_LOGIN_MISSING_SESSION (${mode})`, async (t) => {
      const env = await setup(t);
      env.srv.login = () => ({ statusCode: 200, data: { session: { id: 'i', skey: 's' } } });
      assertError(await invoke(env, mode, env.qcloud.login), env.qcloud, 'LoginError', 'ERR_LOGIN_MISSING_SESSION');
      assert.equal(env.fake.storage.has(SESSION_KEY), false);
      assert.deepEqual(plain(env.qcloud.buildSessionHeader()), {});
    });
  }

  for (const mode of MODES) {
    test(`timeout: a hanging login request → ERR_LOGIN_TIMEOUT; its late answer stores nothing (${mode})`, async (t) => {
      const env = await setup(t);
      let answer;
      env.srv.login = () => new Promise((resolve) => { answer = resolve; });
      const started = env.clock.now();
      const pending = invoke(env, mode, env.qcloud.login, { timeout: 50 });
      await env.clock.advance(50);
      const r = await pending;
      const e = assertError(r, env.qcloud, 'LoginError', 'ERR_LOGIN_TIMEOUT');
      assert.equal(e.type, env.qcloud.ERR_LOGIN_TIMEOUT);
      assert.equal(r.at - started, 50, 'at the deadline, not before');
      assert.equal(typeof answer, 'function', 'the login request was sent');
      answer({ statusCode: 200, data: v1Body(99) });
      await env.clock.advance(20);
      assert.equal(env.fake.storage.has(SESSION_KEY), false);
      assert.deepEqual(plain(env.qcloud.buildSessionHeader()), {});
      // The next login starts a new flow.
      env.srv.login = (o, n) => ({ statusCode: 200, data: v1Body(n) });
      await env.qcloud.login();
      assert.equal(env.fake.calls.login, 2);
      assert.equal(env.fake.storage.get(SESSION_KEY).skey, 'skey-2');
    });
  }
});

describe('login robustness', () => {
  test('a caller with a short timeout gives up; others waiting on the same login still succeed', async (t) => {
    const env = await setup(t);
    let answer;
    env.srv.login = (o, n) => new Promise((resolve) => { answer = () => resolve({ statusCode: 200, data: v1Body(n) }); });
    const short = env.qcloud.login({ timeout: 30 }).then(() => 'ok', (e) => e.type);
    const long = env.qcloud.login();
    await env.clock.advance(30);
    assert.equal(await short, 'ERR_LOGIN_TIMEOUT');
    answer();
    assert.deepEqual(plain(await long), USER);
    assert.equal(env.fake.calls.login, 1);
    assert.equal(env.fake.storage.get(SESSION_KEY).skey, 'skey-1');
  });

  for (const [name, stored] of [['a string', 'garbage'], ['no skey', { id: 'x' }], ['skey: 42', { id: 'x', skey: 42 }]]) {
    test(`a corrupt stored session (${name}) is ignored`, async (t) => {
      const env = await setup(t, { storage: { [SESSION_KEY]: stored } });
      assert.deepEqual(plain(env.qcloud.buildSessionHeader()), {});
      assert.deepEqual(plain(await env.qcloud.login()), USER);
      assert.equal(env.fake.calls.checkSession, 0);
      assert.equal(env.fake.calls.login, 1);
    });
  }

  test('storage that throws (full) keeps the session in memory', async (t) => {
    const env = await setup(t);
    env.fake.wx.setStorageSync = () => { throw new Error('setStorageSync:fail exceed storage max size'); };
    assert.deepEqual(plain(await env.qcloud.login()), USER);
    const res = await env.qcloud.request({ url: API_URL });
    assert.equal(res.data.header['X-WX-Skey'], 'skey-1');
  });

  test('wx.login throwing synchronously → ERR_WX_LOGIN_FAILED', async (t) => {
    const env = await setup(t);
    env.fake.wx.login = () => { throw new Error('boom'); };
    const e = assertError(await invoke(env, 'promise', env.qcloud.login), env.qcloud, 'LoginError', 'ERR_WX_LOGIN_FAILED');
    assert.match(e.detail.errMsg, /boom/);
  });

  test('wx.login success without a code → ERR_WX_LOGIN_FAILED', async (t) => {
    const env = await setup(t, { handlers: { login: () => ({}) } });
    assertError(await invoke(env, 'promise', env.qcloud.login), env.qcloud, 'LoginError', 'ERR_WX_LOGIN_FAILED');
    assert.equal(env.fake.calls.request.length, 0);
  });
});

describe('login variants', () => {
  test('v2 server {code:0, data:{skey, userinfo}} → later requests carry X-WX-Skey only', async (t) => {
    const env = await setup(t);
    const data = { skey: 'v2-skey', userinfo: { nickName: 'v2 用户', openId: 'o1' }, extra: 1 };
    env.srv.login = () => ({ statusCode: 200, data: { code: 0, data } });
    assert.deepEqual(plain(await env.qcloud.login()), data.userinfo);
    assert.deepEqual(plain(env.fake.storage.get(SESSION_KEY)), data, 'v2 stores the whole data object');
    assert.deepEqual(plain(env.qcloud.buildSessionHeader()), { 'X-WX-Skey': 'v2-skey' });
    const res = await env.qcloud.request({ url: API_URL });
    assert.deepEqual(res.data.header, { 'X-WX-Skey': 'v2-skey' });
    assert.deepEqual(plain(env.qcloud.Session.get()), data);
  });

  for (const [name, verdict] of [
    ['code: -1', { statusCode: 200, data: { code: -1, error: 'ERR_SESSION_INVALID' } }],
    ['HTTP 401', { statusCode: 401, data: {} }],
    ['HTTP "401" (string)', { statusCode: '401', data: '' }],
  ]) {
    test(`v2 invalid session (${name}) → re-login and retry once`, async (t) => {
      const env = await setup(t);
      env.srv.login = (o, n) => ({ statusCode: 200, data: { code: 0, data: { skey: 'v2-' + n, userinfo: USER } } });
      await env.qcloud.login();
      env.srv.api = (o, n) => (n === 1 ? verdict : { statusCode: 200, data: { ok: true, header: plain(o.header) } });
      const res = await env.qcloud.request({ url: API_URL });
      assert.equal(res.data.ok, true);
      assert.deepEqual(res.data.header, { 'X-WX-Skey': 'v2-2' });
      assert.equal(loginRequests(env.fake).length, 2);
      assert.deepEqual(apiRequests(env.fake).map((o) => o.header['X-WX-Skey']), ['v2-1', 'v2-2']);
      // Invalid twice → ERR_INVALID_SESSION after exactly one retry.
      env.srv.api = () => verdict;
      const e = assertError(await invoke(env, 'promise', env.qcloud.request, { url: API_URL }), env.qcloud,
        'RequestError', 'ERR_INVALID_SESSION');
      assert.ok(e.detail, 'detail: the response');
      assert.equal(apiRequests(env.fake).length, 4);
    });
  }

  for (const mode of MODES) {
    test(`login({detail}) from a button event: fresh wx.login, no getUserInfo, its data sent (${mode})`, async (t) => {
      const stored = { id: 'old-id', skey: 'old-skey', userInfo: { nickName: '老用户' } };
      const env = await setup(t, { storage: { [SESSION_KEY]: stored } });
      const detail = { userInfo: { nickName: '按钮用户', avatarUrl: 'a.png' }, encryptedData: 'BTN-ENC', iv: 'BTN-IV', rawData: '{}' };
      const r = await invoke(env, mode, env.qcloud.login, { detail });
      assert.equal(r.ok, true);
      assert.deepEqual(plain(r.value), detail.userInfo);
      assert.equal(env.fake.calls.getUserInfo, 0);
      assert.equal(env.fake.calls.checkSession, 0, 'a button tap means a fresh login');
      assert.equal(env.fake.calls.login, 1);
      const [req] = loginRequests(env.fake);
      assert.deepEqual(plain(req.header), { 'X-WX-Code': 'code-1', 'X-WX-Encrypted-Data': 'BTN-ENC', 'X-WX-IV': 'BTN-IV' });
      assert.deepEqual(env.fake.storage.get(SESSION_KEY), { id: 'id-1', skey: 'skey-1', userInfo: detail.userInfo });
    });
  }

  for (const mode of MODES) {
    test(`loginWithCode and login({codeOnly}) send X-WX-Code only (${mode})`, async (t) => {
      const env = await setup(t);
      const r = await invoke(env, mode, env.qcloud.loginWithCode);
      assert.equal(r.ok, true);
      env.qcloud.clearSession();
      assert.equal((await invoke(env, mode, env.qcloud.login, { codeOnly: true })).ok, true);
      assert.equal(env.fake.calls.getUserInfo, 0);
      const reqs = loginRequests(env.fake);
      assert.deepEqual(reqs.map((o) => plain(o.header)), [{ 'X-WX-Code': 'code-1' }, { 'X-WX-Code': 'code-2' }]);
      assert.equal(env.fake.storage.get(SESSION_KEY).skey, 'skey-2');
    });
  }

  test('single flight: 5 login() + 5 request({login: true}) on a cold start → one wx.login, one login request', async (t) => {
    const env = await setup(t);
    const { qcloud } = env;
    const calls = [];
    for (let i = 0; i < 5; i++) {
      calls.push(qcloud.login());
      calls.push(qcloud.request({ url: API_URL + '?n=' + i, login: true }));
    }
    const results = await Promise.all(calls);
    assert.equal(env.fake.calls.login, 1);
    assert.equal(env.fake.calls.getUserInfo, 1);
    assert.equal(loginRequests(env.fake).length, 1);
    for (let i = 0; i < 10; i += 2) {
      assert.deepEqual(plain(results[i]), USER);
      assert.equal(results[i + 1].data.header['X-WX-Skey'], 'skey-1');
      assert.equal(results[i + 1].data.header['X-WX-Id'], 'id-1');
    }
    assert.equal(apiRequests(env.fake).length, 5);
  });

  test('single flight with callbacks: every caller gets success exactly once', async (t) => {
    const env = await setup(t);
    const got = await Promise.all([1, 2, 3].map(() => invoke(env, 'callbacks', env.qcloud.login)));
    assert.ok(got.every((r) => r.ok));
    assert.equal(env.fake.calls.login, 1);
  });
});

describe('request', () => {
  for (const mode of MODES) {
    test(`session headers join the caller's (ours win in any case); other options pass through (${mode})`, async (t) => {
      const env = await setup(t);
      await env.qcloud.login();
      const r = await invoke(env, mode, env.qcloud.request, {
        url: API_URL,
        method: 'PUT',
        data: { a: 1 },
        dataType: 'json',
        responseType: 'text',
        timeout: 1234,
        header: { 'x-wx-skey': 'forged', 'X-WX-ID': 'forged', 'Content-Type': 'application/json', 'X-Mine': 'm' },
      });
      assert.equal(r.ok, true);
      const [req] = apiRequests(env.fake);
      assert.equal(req.url, API_URL);
      assert.equal(req.method, 'PUT');
      assert.deepEqual(plain(req.data), { a: 1 });
      assert.equal(req.dataType, 'json');
      assert.equal(req.responseType, 'text');
      assert.equal(req.timeout, 1234);
      assert.deepEqual(plain(req.header), {
        'Content-Type': 'application/json', 'X-Mine': 'm', 'X-WX-Id': 'id-1', 'X-WX-Skey': 'skey-1',
      });
      // success/complete get the raw wx response.
      assert.deepEqual(plain(r.value), { errMsg: 'request:ok', statusCode: 200, data: { ok: true, header: plain(req.header) } });
    });
  }

  test('success gets the very object wx.request delivered; statusCode "200" (a string) is a success', async (t) => {
    const env = await setup(t);
    await env.qcloud.login();
    let delivered;
    env.fake.wx.request = (o) => {
      env.fake.calls.request.push(o);
      env.fake.later(() => {
        delivered = { data: { hello: 1 }, statusCode: '200', header: { 'Content-Type': 'json' }, errMsg: 'request:ok' };
        o.success(delivered);
      });
    };
    const r = await invoke(env, 'callbacks', env.qcloud.request, { url: API_URL });
    assert.equal(r.ok, true);
    assert.equal(r.value, delivered);
    assert.equal(await env.qcloud.request({ url: API_URL }), delivered);
  });

  test('a request without a session and without login:true goes out without session headers', async (t) => {
    const env = await setup(t);
    await env.qcloud.request({ url: API_URL, header: { A: 'b' } });
    assert.deepEqual(plain(apiRequests(env.fake)[0].header), { A: 'b' });
    assert.equal(env.fake.calls.login, 0);
  });

  for (const mode of MODES) {
    test(`magic ERR_INVALID_SESSION → session cleared, re-login, retried exactly once (${mode})`, async (t) => {
      const env = await setup(t);
      await env.qcloud.login();
      env.srv.api = (o, n) => (n === 1
        ? { statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '会话过期' } }
        : { statusCode: 200, data: { ok: true, header: plain(o.header) } });
      const r = await invoke(env, mode, env.qcloud.request, { url: API_URL });
      assert.equal(r.ok, true);
      assert.deepEqual(r.value.data.header, { 'X-WX-Id': 'id-2', 'X-WX-Skey': 'skey-2' });
      assert.equal(env.fake.calls.login, 2);
      assert.deepEqual(apiRequests(env.fake).map((o) => o.header['X-WX-Skey']), ['skey-1', 'skey-2']);
      assert.equal(env.fake.storage.get(SESSION_KEY).skey, 'skey-2');
    });

    test(`a second invalid session → RequestError ERR_INVALID_SESSION, no third try (${mode})`, async (t) => {
      const env = await setup(t);
      await env.qcloud.login();
      env.srv.api = () => ({ statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '会话过期' } });
      const e = assertError(await invoke(env, mode, env.qcloud.request, { url: API_URL }), env.qcloud, 'RequestError', 'ERR_INVALID_SESSION');
      assert.equal(e.type, env.qcloud.ERR_INVALID_SESSION);
      await env.clock.advance(20);
      assert.equal(apiRequests(env.fake).length, 2);
      assert.equal(env.fake.calls.login, 2);
      assert.equal(env.fake.storage.has(SESSION_KEY), false, 'the rejected session is not kept');
    });

    test(`other magic error → ERR_CHECK_LOGIN_FAILED with the server's error and message, no retry (${mode})`, async (t) => {
      const env = await setup(t);
      await env.qcloud.login();
      env.srv.api = () => ({ statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_SKEY_MISMATCH', message: '鉴权不通过' } });
      const e = assertError(await invoke(env, mode, env.qcloud.request, { url: API_URL }), env.qcloud, 'RequestError', 'ERR_CHECK_LOGIN_FAILED');
      assert.match(e.message, /ERR_SKEY_MISMATCH/);
      assert.match(e.message, /鉴权不通过/);
      await env.clock.advance(20);
      assert.equal(apiRequests(env.fake).length, 1);
      assert.equal(env.fake.calls.login, 1);
    });

    test(`network failure → fail then complete with RequestError ERR_REQUEST_FAILED, detail the wx error (${mode})`, async (t) => {
      const env = await setup(t);
      const wxErr = { errMsg: 'request:fail net::ERR_CONNECTION_RESET' };
      env.srv.api = () => ({ fail: wxErr });
      const e = assertError(await invoke(env, mode, env.qcloud.request, { url: API_URL }), env.qcloud, 'RequestError', 'ERR_REQUEST_FAILED');
      assert.equal(e.detail, wxErr);
      assert.equal(e.type, env.qcloud.ERR_REQUEST_FAILED);
    });
  }

  test('request({login: true}) whose login fails → fail with that LoginError, no API request', async (t) => {
    const env = await setup(t, { handlers: { login: () => ({ fail: { errMsg: 'login:fail' } }) } });
    const e = assertError(await invoke(env, 'callbacks', env.qcloud.request, { url: API_URL, login: true }), env.qcloud,
      'LoginError', 'ERR_WX_LOGIN_FAILED');
    assert.equal(e.detail.errMsg, 'login:fail');
    assert.equal(apiRequests(env.fake).length, 0);
  });

  test('request({login: true}): the login request does not take the request\'s method and data', async (t) => {
    const env = await setup(t);
    const res = await env.qcloud.request({ url: API_URL, login: true, method: 'PUT', data: { order: 1 } });
    assert.equal(res.data.ok, true);
    const [login] = loginRequests(env.fake);
    assert.equal(login.method, 'GET');
    assert.equal(login.data, undefined, 'the business payload must not go to the login URL');
    const [api] = apiRequests(env.fake);
    assert.equal(api.method, 'PUT');
    assert.deepEqual(plain(api.data), { order: 1 });
  });

  test('request({login: true, loginUrl}) logs in at that URL', async (t) => {
    const env = await setup(t, { setUrl: false });
    await env.qcloud.request({ url: API_URL, login: true, loginUrl: OTHER_LOGIN_URL });
    assert.deepEqual(loginRequests(env.fake).map((o) => o.url), [OTHER_LOGIN_URL]);
    assert.equal(apiRequests(env.fake)[0].loginUrl, undefined, 'SDK options are not passed to wx.request');
  });

  test('the retry after an invalid session repeats the same request', async (t) => {
    const env = await setup(t);
    await env.qcloud.login();
    env.srv.api = (o, n) => (n === 1
      ? { statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '' } }
      : { statusCode: 200, data: { ok: true } });
    await env.qcloud.request({ url: API_URL, method: 'POST', data: { n: 1 }, header: { 'X-Mine': 'm' }, dataType: 'json' });
    const [first, second] = apiRequests(env.fake);
    for (const k of ['url', 'method', 'dataType']) assert.equal(second[k], first[k], k);
    assert.deepEqual(plain(second.data), { n: 1 });
    assert.equal(second.header['X-Mine'], 'm');
  });

  test('wx.request throwing synchronously → ERR_REQUEST_FAILED; the SDK still works', async (t) => {
    const env = await setup(t);
    await env.qcloud.login();
    const request = env.fake.wx.request;
    env.fake.wx.request = () => { throw new Error('too many requests'); };
    const e = assertError(await invoke(env, 'callbacks', env.qcloud.request, { url: API_URL }), env.qcloud, 'RequestError', 'ERR_REQUEST_FAILED');
    assert.match(e.detail.errMsg, /too many requests/);
    env.fake.wx.request = request;
    await assertStillWorks(env);
  });

  test('wx APIs answering synchronously work too', async (t) => {
    const env = await setup(t);
    env.fake.async = false;
    assert.deepEqual(plain(await env.qcloud.login()), USER);
    const res = await env.qcloud.request({ url: API_URL, login: true });
    assert.equal(res.data.header['X-WX-Skey'], 'skey-1');
    env.srv.api = (o, n) => (n === 2
      ? { statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '' } }
      : { statusCode: 200, data: { ok: true, header: plain(o.header) } });
    const again = await env.qcloud.request({ url: API_URL });
    assert.equal(again.data.header['X-WX-Skey'], 'skey-2');
  });

  test('request({login: true}) with a stored session: no login at all', async (t) => {
    const env = await setup(t, { storage: { [SESSION_KEY]: { id: 'sid', skey: 'sk', userInfo: USER } } });
    const res = await env.qcloud.request({ url: API_URL, login: true });
    assert.deepEqual(res.data.header, { 'X-WX-Id': 'sid', 'X-WX-Skey': 'sk' });
    assert.equal(env.fake.calls.login, 0);
    assert.equal(loginRequests(env.fake).length, 0);
  });
});

describe('errors', () => {
  test('LoginError and RequestError are real Errors with type, message, detail', async (t) => {
    const env = await setup(t, { setUrl: false });
    const { qcloud } = env;
    const le = await qcloud.login().then(() => null, (e) => e);
    assert.ok(le instanceof qcloud.LoginError);
    assert.ok(!(le instanceof qcloud.RequestError));
    assert.equal(Object.prototype.toString.call(le), '[object Error]');
    assert.equal(le.name, 'LoginError');
    assert.equal(le.type, 'ERR_INVALID_PARAMS');
    assert.ok(le.message.length > 0);
    assert.equal(typeof le.stack, 'string');
    const re = await qcloud.request({ url: API_URL, header: 'bad' }).then(() => null, (e) => e);
    assert.ok(re instanceof qcloud.RequestError);
    assert.equal(Object.prototype.toString.call(re), '[object Error]');
    assert.equal(re.type, 'ERR_INVALID_PARAMS');
    const made = new qcloud.RequestError('X_TYPE', 'text', { errMsg: 'e' });
    assert.equal(made.type, 'X_TYPE');
    assert.equal(made.message, 'text');
    assert.equal(made.detail.errMsg, 'e');
    assert.equal(String(made), 'RequestError: text');
  });
});

describe('bad input never breaks the SDK', () => {
  for (const [name, call] of [
    ['request(undefined)', (q) => q.request(undefined)],
    ['request()', (q) => q.request()],
    ["request('x')", (q) => q.request('x')],
    ['request(42)', (q) => q.request(42)],
    ['request(null)', (q) => q.request(null)],
    ['request([])', (q) => q.request([])],
    ['request({}) (no url)', (q) => q.request({})],
    ["request({url: ''})", (q) => q.request({ url: '' })],
    ['request({url: 42})', (q) => q.request({ url: 42 })],
    ['request with a Referer header', (q) => q.request({ url: API_URL, header: { Referer: 'https://evil' } })],
    ['request with a referer header (lower case)', (q) => q.request({ url: API_URL, header: { referer: 'x' } })],
    ["request with header: 'x'", (q) => q.request({ url: API_URL, header: 'x' })],
  ]) {
    test(`${name} → RequestError ERR_INVALID_PARAMS, no wx.request`, async (t) => {
      const env = await setup(t);
      const r = await call(env.qcloud).then((v) => ({ ok: true, value: v }), (e) => ({ ok: false, value: e }));
      assertError(r, env.qcloud, 'RequestError', 'ERR_INVALID_PARAMS');
      assert.equal(env.fake.calls.request.length, 0);
      await assertStillWorks(env);
    });
  }

  test('request with callbacks and no url → fail + complete', async (t) => {
    const env = await setup(t);
    assertError(await invoke(env, 'callbacks', env.qcloud.request, { method: 'GET' }), env.qcloud, 'RequestError', 'ERR_INVALID_PARAMS');
  });

  for (const [name, arg] of [["login('x')", 'x'], ['login(42)', 42], ['login(null)', null]]) {
    test(`${name} → LoginError ERR_INVALID_PARAMS`, async (t) => {
      const env = await setup(t);
      const r = await env.qcloud.login(arg).then((v) => ({ ok: true, value: v }), (e) => ({ ok: false, value: e }));
      assertError(r, env.qcloud, 'LoginError', 'ERR_INVALID_PARAMS');
      assert.equal(env.fake.calls.login, 0);
      await assertStillWorks(env);
    });
  }

  for (const arg of [42, '', null, undefined, {}]) {
    test(`setLoginUrl(${JSON.stringify(arg)}) throws a LoginError; the URL set before stays`, async (t) => {
      const env = await setup(t);
      assert.throws(() => env.qcloud.setLoginUrl(arg), (e) => e instanceof env.qcloud.LoginError && e.type === 'ERR_INVALID_PARAMS');
      await assertStillWorks(env);
      assert.equal(loginRequests(env.fake)[0].url, LOGIN_URL);
    });
  }

  const deepObject = () => {
    let v = { end: true };
    for (let i = 0; i < 10000; i++) v = { a: v };
    return v;
  };
  for (const [name, body, type] of [
    ['non-JSON text', '<html>502 Bad Gateway</html>'],
    ['broken JSON text', '{"' + MAGIC + '":1, "session": {'],
    ['a 1 MB string', 'x'.repeat(1 << 20)],
    ['a 1 MB JSON text', JSON.stringify({ [MAGIC]: 1, error: 'E', message: 'y'.repeat(1 << 20) })],
    ['10000 levels of JSON text', '{"a":'.repeat(10000) + '1' + '}'.repeat(10000)],
    ['a 10000 levels deep object', deepObject()],
    ['session: "x"', { [MAGIC]: 1, session: 'x' }],
    ['session with numbers', { [MAGIC]: 1, session: { id: 1, skey: 2 } }],
    ['error: 42', { [MAGIC]: 1, error: 42, message: { m: 1 } }],
    ['magic without session or error', { [MAGIC]: 1 }],
    ['v2 data: "x"', { code: 0, data: 'x' }],
    ['v2 without skey', { code: 0, data: { userinfo: USER } }],
    ['null', null],
    ['an array', [v1Body(1)]],
    ['a number', 42],
  ]) {
    test(`login response body ${name} → ERR_LOGIN_MISSING_SESSION; the SDK still works`, async (t) => {
      const env = await setup(t);
      env.srv.login = () => ({ statusCode: 200, data: body });
      const e = assertError(await invoke(env, 'promise', env.qcloud.login), env.qcloud, 'LoginError', type || 'ERR_LOGIN_MISSING_SESSION');
      assert.ok(e.message.length < 2000, 'the error text does not carry the whole body');
      assert.equal(env.fake.storage.has(SESSION_KEY), false);
      await assertStillWorks(env);
    });
  }

  test('login response body as JSON text (dataType text) is understood', async (t) => {
    const env = await setup(t);
    env.srv.login = (o, n) => ({ statusCode: 200, data: JSON.stringify(v1Body(n)) });
    assert.deepEqual(plain(await env.qcloud.login()), USER);
    assert.equal(env.fake.storage.get(SESSION_KEY).skey, 'skey-1');
  });

  for (const [name, body] of [
    ['non-JSON text', '<html>oops</html>'],
    ['a 1 MB string', 'x'.repeat(1 << 20)],
    ['10000 levels of JSON text', '{"a":'.repeat(10000) + '1' + '}'.repeat(10000)],
    ['a 10000 levels deep object', deepObject()],
    ['null', null],
  ]) {
    test(`request response body ${name} → success with the raw response`, async (t) => {
      const env = await setup(t);
      await env.qcloud.login();
      env.srv.api = () => ({ statusCode: 200, data: body });
      const res = await env.qcloud.request({ url: API_URL });
      assert.equal(res.data, body);
      await assertStillWorks(env);
    });
  }

  test('request: magic body with wrong-typed error → ERR_CHECK_LOGIN_FAILED; the SDK still works', async (t) => {
    const env = await setup(t);
    await env.qcloud.login();
    env.srv.api = () => ({ statusCode: 200, data: { [MAGIC]: 1, error: 42, message: ['x'] } });
    assertError(await invoke(env, 'promise', env.qcloud.request, { url: API_URL }), env.qcloud, 'RequestError', 'ERR_CHECK_LOGIN_FAILED');
    await assertStillWorks(env);
  });

  test('a throwing success callback does not break the SDK', async (t) => {
    const env = await setup(t);
    let completed = false;
    env.qcloud.login({ success: () => { throw new Error('page bug'); }, complete: () => { completed = true; } });
    await env.clock.waitFor(() => completed, 2000, 'complete');
    assert.equal(env.errors.length, 1, 'reported on the console');
    await assertStillWorks(env);
  });
});

describe('session management', () => {
  test('clearSession forgets the session: storage, headers, next request', async (t) => {
    const env = await setup(t);
    await env.qcloud.login();
    assert.deepEqual(plain(env.qcloud.buildSessionHeader()), { 'X-WX-Id': 'id-1', 'X-WX-Skey': 'skey-1' });
    env.qcloud.clearSession();
    assert.equal(env.fake.storage.has(SESSION_KEY), false);
    assert.deepEqual(plain(env.qcloud.buildSessionHeader()), {});
    assert.equal(env.qcloud.Session.get(), null);
    const res = await env.qcloud.request({ url: API_URL });
    assert.deepEqual(res.data.header, {});
    // login() after clearSession is a full login (no checkSession shortcut).
    await env.qcloud.login();
    assert.equal(env.fake.calls.login, 2);
    assert.equal(env.fake.calls.checkSession, 0);
  });

  test('a v2 session stored by an earlier run: login() answers its userinfo, requests carry X-WX-Skey only', async (t) => {
    const data = { skey: 'v2-stored', userinfo: { nickName: 'v2 老用户' } };
    const env = await setup(t, { storage: { [SESSION_KEY]: data } });
    assert.deepEqual(plain(await env.qcloud.login()), data.userinfo);
    assert.equal(env.fake.calls.login, 0);
    const res = await env.qcloud.request({ url: API_URL });
    assert.deepEqual(res.data.header, { 'X-WX-Skey': 'v2-stored' });
  });

  test('buildSessionHeader reads a session stored by an earlier run', async (t) => {
    const env = await setup(t, { storage: { [SESSION_KEY]: { id: 'sid', skey: 'sk', userInfo: USER } } });
    assert.deepEqual(plain(env.qcloud.buildSessionHeader()), { 'X-WX-Id': 'sid', 'X-WX-Skey': 'sk' });
  });

  test('Session.get/set/clear', async (t) => {
    const env = await setup(t);
    const { Session } = env.qcloud;
    assert.equal(Session.get(), null);
    Session.set({ id: 'set-id', skey: 'set-skey', userInfo: USER });
    assert.deepEqual(plain(Session.get()), { id: 'set-id', skey: 'set-skey', userInfo: USER });
    assert.deepEqual(env.fake.storage.get(SESSION_KEY), { id: 'set-id', skey: 'set-skey', userInfo: USER });
    const res = await env.qcloud.request({ url: API_URL });
    assert.deepEqual(res.data.header, { 'X-WX-Id': 'set-id', 'X-WX-Skey': 'set-skey' });
    // A v2 session (skey only).
    Session.set({ skey: 'only-skey' });
    assert.deepEqual(plain(env.qcloud.buildSessionHeader()), { 'X-WX-Skey': 'only-skey' });
    for (const bad of [undefined, null, 'x', {}, { skey: '' }, { skey: 42 }]) {
      assert.throws(() => Session.set(bad), (e) => e instanceof env.qcloud.LoginError && e.type === 'ERR_INVALID_PARAMS',
        JSON.stringify(bad));
    }
    assert.deepEqual(plain(Session.get()), { skey: 'only-skey' }, 'a refused set changes nothing');
    Session.clear();
    assert.equal(Session.get(), null);
    assert.equal(env.fake.storage.has(SESSION_KEY), false);
    assert.deepEqual(plain(env.qcloud.buildSessionHeader()), {});
  });
});
