// What a vendor's application needs to reach a provisioned tenant domain from this machine,
// and the maintained libraries it signs members in with: openid-client for OpenID Connect,
// pysaml2 (end2end/saml-sp) for SAML.
//
// The tenant's domain (`sso.acme.test`) lives only in the sandbox's DNS server, and the edge
// listens on unprivileged loopback ports. A small HTTP proxy plays the network between them: it
// takes `sso.acme.test:443` to the edge's HTTPS port and plain HTTP to the vendors' servers on
// 127.0.0.1, and nothing else anywhere. TLS runs end to end through it, so the library checks
// the certificate Pebble issued, for the name it asked for, against Pebble's root, exactly as
// it would on the internet.

import { spawn } from 'node:child_process';
import { createServer, request as httpRequest, Server } from 'node:http';
import { connect, AddressInfo, Socket } from 'node:net';
import { join, resolve } from 'node:path';
import * as oidc from 'openid-client';
import { fetch as undiciFetch, ProxyAgent } from 'undici';

export type Network = { proxy: string; close: () => Promise<void> };

/**
 * A proxy that reaches `routes` (`host:port` → loopback port) by CONNECT, and the vendors'
 * plain-HTTP servers on 127.0.0.1 (Playwright sends loopback through the proxy too); it
 * refuses the rest.
 */
export async function sandboxNetwork(routes: Record<string, number>): Promise<Network> {
  const server = createServer((request, response) => {
    const target = new URL(request.url ?? '/', 'http://unknown.invalid');
    if (target.hostname !== '127.0.0.1') {
      response.writeHead(502).end('not on this network');
      return;
    }
    const upstream = httpRequest(
      { host: '127.0.0.1', port: target.port, method: request.method, path: target.pathname + target.search, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  server.on('connect', (request, client, head) => {
    const port = routes[(request.url ?? '').toLowerCase()];
    if (!port) {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      return;
    }
    const upstream = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  // Tunnels are not HTTP connections the server would close itself.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  return {
    proxy: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return close(server);
    },
  };
}

/** The application's own callback page, on loopback as a developer's app would run it. */
export async function callbackServer(): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><title>Vendor app</title><h1>Back at the vendor's app</h1><p>${request.method}</p>`);
  });
  const port = await listen(server);
  return { origin: `http://127.0.0.1:${port}`, close: () => close(server) };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolveListening) => {
    server.listen(0, '127.0.0.1', () => resolveListening((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolveClosed) => server.close(() => resolveClosed()));
}

/** openid-client's fetch, through the sandbox network, trusting Pebble's root only. */
export function sandboxFetch(network: Network, root: string): oidc.CustomFetch {
  const dispatcher = new ProxyAgent({ uri: network.proxy, requestTls: { ca: root } });
  return (url, options) =>
    undiciFetch(url, { ...options, dispatcher } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
}

/** Discovery as a vendor configures it: the issuer URL and the values from the dashboard. */
export async function discover(
  issuer: string,
  clientId: string,
  authentication: oidc.ClientAuth,
  fetchThrough: oidc.CustomFetch,
  metadata: Partial<oidc.ClientMetadata> = {},
): Promise<oidc.Configuration> {
  const config = await oidc.discovery(new URL(issuer), clientId, metadata, authentication, {
    [oidc.customFetch]: fetchThrough,
  });
  config[oidc.customFetch] = fetchThrough;
  return config;
}

/** A GET through the sandbox network, as a vendor downloads the IdP's metadata. */
export async function fetchText(fetchThrough: oidc.CustomFetch, url: string): Promise<string> {
  const response = await fetchThrough(url, {
    method: 'GET',
    headers: new Headers(),
    body: undefined,
    redirect: 'manual',
    signal: undefined,
  } as unknown as Parameters<oidc.CustomFetch>[1]);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.text();
}

export type ServiceProvider = { origin: string; close: () => Promise<void> };

/**
 * A pysaml2 service provider on loopback (end2end/saml-sp/sp.py) that trusts the IdP metadata
 * in `idpMetadata`; `want` says which signature it insists on (`assertion`, `response`, `both`).
 */
export async function pysaml2ServiceProvider(name: string, idpMetadata: string, want = 'assertion'): Promise<ServiceProvider> {
  const folder = resolve(__dirname, '..');
  const child = spawn(
    join(folder, '.venv/bin/python'),
    [join(folder, 'saml-sp/sp.py'), '--name', name, '--idp-metadata', idpMetadata, '--want', want],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const origin = await new Promise<string>((resolveOrigin, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const listening = output.match(/listening on (\S+)/);
      if (listening) resolveOrigin(listening[1]);
    });
    child.on('exit', (code) => reject(new Error(`the ${name} service provider exited with ${code}: ${output}`)));
  });
  return {
    origin,
    close: () =>
      new Promise((resolveClosed) => {
        child.once('exit', () => resolveClosed());
        child.kill('SIGTERM');
      }),
  };
}

export { oidc };
