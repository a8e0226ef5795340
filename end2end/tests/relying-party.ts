// What a vendor's application needs to reach a provisioned tenant domain from this machine,
// and the maintained OpenID Connect library (openid-client) it signs members in with.
//
// The tenant's domain (`sso.acme.test`) lives only in the sandbox's DNS server, and the edge
// listens on unprivileged loopback ports. A small HTTP CONNECT proxy plays the network between
// them: it takes `sso.acme.test:443` to the edge's HTTPS port, and nothing else anywhere. TLS
// runs end to end through it, so the library checks the certificate Pebble issued, for the
// name it asked for, against Pebble's root, exactly as it would on the internet.

import { createServer, Server } from 'node:http';
import { connect, AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { fetch as undiciFetch, ProxyAgent } from 'undici';

export type Network = { proxy: string; close: () => Promise<void> };

/** A CONNECT proxy that reaches `routes` (`host:port` → loopback port) and refuses the rest. */
export async function sandboxNetwork(routes: Record<string, number>): Promise<Network> {
  const server = createServer((_request, response) => {
    response.writeHead(405).end('only CONNECT');
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
  const port = await listen(server);
  return { proxy: `http://127.0.0.1:${port}`, close: () => close(server) };
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

export { oidc };
