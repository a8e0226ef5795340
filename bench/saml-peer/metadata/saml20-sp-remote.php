<?php
// The same service provider Vestibule's side of the benchmark registers: assertion signed,
// persistent NameID.
$metadata['https://events.example.org/saml'] = [
    'AssertionConsumerService' => 'https://events.example.org/saml/acs',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    'simplesaml.nameidattribute' => 'uid',
    'saml20.sign.assertion' => true,
    'saml20.sign.response' => false,
];
