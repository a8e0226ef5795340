//! The floor of a signed answer: one signature of the same algorithm and key size over an ID
//! token's worth of bytes, by each library on the machine that can make it (ring and OpenSSL),
//! measured in the same run as what it is compared with; the faster is the floor. Included by
//! path from the benchmarks that need it, beside `figures.rs`.

#![allow(dead_code, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256, RSA_PKCS1_SHA512};

use super::figures::{median, own_cpu_seconds};

/// One timed stretch of work: operations per wall-clock second and per CPU second.
#[derive(Clone, Copy)]
pub struct Rate {
    pub wall: f64,
    pub cpu: f64,
}

/// CPU time counts every thread of the process: a request is charged for the work SQLite's
/// worker thread did for it too.
pub fn timed(count: usize, work: impl FnOnce()) -> Rate {
    let (started, cpu_started) = (Instant::now(), own_cpu_seconds());
    work();
    let wall = started.elapsed().as_secs_f64();
    // At least one clock tick: a round shorter than that is not measured.
    let cpu = (own_cpu_seconds() - cpu_started).max(0.01);
    Rate {
        wall: count as f64 / wall,
        cpu: count as f64 / cpu,
    }
}

/// A fresh RSA key of `bits`, as PKCS#8 DER, for both libraries.
fn rsa_pkcs8(bits: u32) -> Vec<u8> {
    let key = openssl::rsa::Rsa::generate(bits).unwrap();
    PKey::from_rsa(key).unwrap().private_key_to_pkcs8().unwrap()
}

/// The libraries measured for the floor.
pub const LIBRARIES: [&str; 2] = ["ring", "OpenSSL"];

/// A floor: one library signing an ID token's worth of bytes with the algorithm, `count` times.
pub struct Floor {
    sign: Box<dyn FnMut()>,
}

impl Floor {
    pub fn new(library: &str, algorithm: &str, message: Vec<u8>) -> Self {
        let (bits, sha512) = match algorithm {
            "RS256" => (2048, false),
            _ => (4096, true),
        };
        let sign: Box<dyn FnMut()> = match (library, algorithm) {
            ("ring", "HS512") => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA512, &[7; 64]);
                Box::new(move || {
                    std::hint::black_box(ring::hmac::sign(&key, &message));
                })
            }
            ("ring", _) => {
                let padding = if sha512 {
                    &RSA_PKCS1_SHA512
                } else {
                    &RSA_PKCS1_SHA256
                };
                let key = RsaKeyPair::from_pkcs8(&rsa_pkcs8(bits)).unwrap();
                let mut signature = vec![0; key.public().modulus_len()];
                let random = SystemRandom::new();
                Box::new(move || {
                    key.sign(padding, &random, &message, &mut signature)
                        .unwrap();
                })
            }
            (_, "HS512") => {
                let key = PKey::hmac(&[7; 64]).unwrap();
                Box::new(move || {
                    let mut signer =
                        openssl::sign::Signer::new(MessageDigest::sha512(), &key).unwrap();
                    std::hint::black_box(signer.sign_oneshot_to_vec(&message).unwrap());
                })
            }
            _ => {
                let key = PKey::private_key_from_pkcs8(&rsa_pkcs8(bits)).unwrap();
                let digest = if sha512 {
                    MessageDigest::sha512()
                } else {
                    MessageDigest::sha256()
                };
                Box::new(move || {
                    let mut signer = openssl::sign::Signer::new(digest, &key).unwrap();
                    std::hint::black_box(signer.sign_oneshot_to_vec(&message).unwrap());
                })
            }
        };
        Self { sign }
    }

    /// Batches of `count` signatures for at least half a second, so that the CPU time (read
    /// in hundredths of a second) is measured even for a fast algorithm.
    pub fn run(&mut self, count: usize) -> Rate {
        let sign = &mut self.sign;
        let (started, cpu_started) = (Instant::now(), own_cpu_seconds());
        let mut done = 0;
        while done == 0 || started.elapsed() < Duration::from_millis(500) {
            (0..count).for_each(|_| sign());
            done += count;
        }
        Rate {
            wall: done as f64 / started.elapsed().as_secs_f64(),
            cpu: done as f64 / (own_cpu_seconds() - cpu_started).max(0.01),
        }
    }
}

/// Each library's median rate over `rounds` of `count` signatures, and which is the faster.
pub fn fastest(algorithm: &str, message: &[u8], count: usize, rounds: usize) -> (Vec<f64>, usize) {
    let mut floors: Vec<Floor> = LIBRARIES
        .iter()
        .map(|library| Floor::new(library, algorithm, message.to_vec()))
        .collect();
    let rates: Vec<f64> = floors
        .iter_mut()
        .map(|floor| median((0..rounds).map(|_| floor.run(count).wall).collect()))
        .collect();
    let best = (0..rates.len())
        .max_by(|&a, &b| rates[a].total_cmp(&rates[b]))
        .unwrap();
    (rates, best)
}
