// test/dashboard/serve.mjs: serves the built dashboard (a static site) on
// 127.0.0.1 at a port the system picks, and prints that port; for the
// headless browser of test/dashboard/run.sh.  Usage: node serve.mjs BUILD-DIR
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';

const root = resolve(process.argv[2]);
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
	'.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png',
	'.parquet': 'application/octet-stream', '.arrow': 'application/octet-stream', '.webmanifest': 'application/manifest+json' };

createServer(async (req, res) => {
	// a path inside the build only; a directory means its index.html
	try {
		let file = normalize(join(root, decodeURIComponent(req.url.split('?')[0])));
		if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
		if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
		const body = await readFile(file);
		res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream' }).end(body);
	} catch {
		res.writeHead(404).end('not found');
	}
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
