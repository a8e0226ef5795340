<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'members' => [
        'exampleauth:UserPass',
        'jane:jane-member-password' => [
            'uid' => ['jane'],
            'mail' => ['jane@acme.test'],
            'givenName' => ['jane'],
            'sn' => ['Member'],
        ],
    ],
];
