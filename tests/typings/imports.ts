// Every way a TypeScript mini-program imports a CommonJS package gives the same typed API.
import qcloudRequire = require('qcloud-weapp-client-sdk');
import * as qcloudStar from 'qcloud-weapp-client-sdk';
import qcloudDefault from 'qcloud-weapp-client-sdk';
import { Tunnel, ERR_INVALID_SESSION } from 'qcloud-weapp-client-sdk';

export const loaders: Array<(o?: qcloudRequire.InitOptions) => Promise<typeof qcloudRequire>> = [
  qcloudRequire.init,
  qcloudStar.init,
  qcloudDefault.init,
];
export const invalid: 'ERR_INVALID_SESSION' = ERR_INVALID_SESSION;
export const tunnel: qcloudStar.Tunnel = new Tunnel('https://example.com/tunnel');
