#!/usr/bin/env node
// exec-node: the exec test protocol (README.md) on Node's net module.
//
//     node server.js PORT [--bug oneline|droptail|max64|quitrest]
//
// Each 'data' event is one read. The correct twin keeps the unfinished line
// of a read for the next one; the buggy twins are the usual shortcuts.
'use strict';
const net = require('net');

const MAX_LINE = 256; // bytes of a line, its line end not counted
const BUGS = ['oneline', 'droptail', 'max64', 'quitrest'];
const store = new Map();

// The reply to one line (a Buffer without its line end), and whether it was QUIT.
function run(line) {
  if (line.length > MAX_LINE) return ['ERR line too long', false];
  const s = line.toString('latin1');
  const sp = s.indexOf(' ');
  const word = sp < 0 ? s : s.slice(0, sp);
  const rest = sp < 0 ? '' : s.slice(sp + 1);
  if (s === 'PING') return ['PONG', false];
  if (word === 'ECHO') return [rest, false];
  if (s === 'QUIT') return ['BYE', true];
  if (word === 'SET' || word === 'GET' || word === 'DEL') {
    const ksp = rest.indexOf(' ');
    const key = ksp < 0 ? rest : rest.slice(0, ksp);
    if (!key || key.length > 64 || (word === 'SET') !== ksp >= 0)
      return [word === 'SET' ? 'ERR usage: SET KEY VALUE' : 'ERR usage: GET|DEL KEY', false];
    if (word === 'SET') {
      if (!store.has(key) && store.size >= 256) return ['ERR store full', false];
      store.set(key, rest.slice(ksp + 1));
      return ['OK', false];
    }
    if (!store.has(key)) return ['NIL', false];
    if (word === 'GET') return ['VALUE ' + store.get(key), false];
    store.delete(key);
    return ['DELETED', false];
  }
  return ['ERR unknown command', false];
}

function serve(sock, bug) {
  let tail = Buffer.alloc(0);
  let tooLong = false; // the unfinished line is over the limit: refuse it at its end
  let quit = false;
  sock.on('data', (data) => {
    if (quit) return;
    if (bug === 'max64' && data.length > 64) {
      sock.write('ERR line too long\r\n'); // BUG: a read taken for a line
      return;
    }
    let buf = Buffer.concat([tail, data]);
    let nl;
    while ((nl = buf.indexOf(10)) >= 0 && (!quit || bug === 'quitrest')) {
      // (quitrest: BUG, lines read together with QUIT still run)
      let line = buf.subarray(0, nl);
      buf = buf.subarray(nl + 1);
      if (line.length && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
      const [out, q] = tooLong ? ['ERR line too long', false] : run(line);
      tooLong = false;
      sock.write(out + '\r\n', 'latin1');
      if (q) {
        quit = true;
        sock.end();
      }
      if (bug === 'oneline') buf = Buffer.alloc(0); // BUG: one line per read
    }
    if (buf.length > MAX_LINE + 1) {
      tooLong = true;
      buf = Buffer.alloc(0);
    }
    tail = bug === 'droptail' ? Buffer.alloc(0) : buf; // (droptail: BUG, the tail is lost)
  });
  sock.on('end', () => sock.end());
  sock.on('error', () => sock.destroy());
}

const args = process.argv.slice(2);
let bug = null;
if (args.length === 3 && args[1] === '--bug' && BUGS.includes(args[2])) bug = args[2];
else if (args.length !== 1 || !/^[0-9]+$/.test(args[0])) {
  process.stderr.write('usage: server.js PORT [--bug ' + BUGS.join('|') + ']\n');
  process.exit(2);
}
const sockets = new Set();
const server = net.createServer((sock) => {
  sockets.add(sock);
  sock.on('close', () => sockets.delete(sock));
  serve(sock, bug);
});
server.listen(Number(args[0]), '127.0.0.1', () => {
  process.stdout.write('listening on 127.0.0.1:' + server.address().port + '\n');
});
const stop = () => {
  server.close();
  for (const s of sockets) s.destroy();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
