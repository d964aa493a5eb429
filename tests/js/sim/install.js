// Installs a package with bower (offline) into a fresh temporary mini-program folder.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BOWER = path.join(ROOT, 'node_modules', 'bower', 'bin', 'bower');

/** `bower install <source>` into a new folder; returns the folder. */
function bowerInstall(source, name = 'qcloud-weapp-client-sdk') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniprogram-'));
  fs.writeFileSync(path.join(dir, 'bower.json'), JSON.stringify({ name: 'test-miniprogram', private: true }));
  const home = path.join(dir, '.home');
  fs.mkdirSync(home);
  execFileSync(process.execPath, [BOWER, 'install', `${name}=${source}`, '--offline', '--allow-root',
    '--config.interactive=false', '--config.registry.search=http://127.0.0.1:9', '--silent'], {
    cwd: dir,
    env: Object.assign({}, process.env, { HOME: home, XDG_CONFIG_HOME: home, XDG_CACHE_HOME: home, XDG_DATA_HOME: home }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return dir;
}

/** Removes a folder made by bowerInstall. */
function remove(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
}

module.exports = { ROOT, bowerInstall, remove };
