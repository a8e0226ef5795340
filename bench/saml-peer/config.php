<?php
// SimpleSAMLphp as the SAML peer of `cargo bench --bench saml_vs_peer`: an IdP that signs the
// assertion with RSA-2048 SHA-256, members in its example user store, sessions in PHP's files.
// The benchmark sets BENCH_DIR (keys, sessions, logs) and BENCH_PORT.
$dir = getenv('BENCH_DIR');
$config = [
    'baseurlpath' => 'http://127.0.0.1:' . getenv('BENCH_PORT') . '/',
    'certdir' => $dir . '/cert/',
    'loggingdir' => $dir . '/log/',
    'datadir' => $dir . '/data/',
    'tempdir' => $dir . '/tmp',
    'secretsalt' => 'saml-vs-peer-benchmark-salt',
    'auth.adminpassword' => 'saml-vs-peer-benchmark-admin',
    'technicalcontact_name' => 'Benchmark',
    'technicalcontact_email' => 'benchmark@example.org',
    'timezone' => 'UTC',
    'logging.level' => SimpleSAML\Logger::ERR,
    'logging.handler' => 'errorlog',
    'enable.saml20-idp' => true,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true],
    'store.type' => 'phpsession',
    'session.phpsession.savepath' => $dir . '/tmp',
    'session.cookie.secure' => false,
    'metadata.sources' => [['type' => 'flatfile', 'directory' => __DIR__ . '/metadata']],
];
