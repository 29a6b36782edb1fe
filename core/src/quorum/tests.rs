//! The vote-collection rules, read from `testdata/votes.txt`, plus certificates and evidence.

use super::*;
use crate::node::NodeId;

const CLUSTER: u64 = 42;

fn kind(s: &str) -> QuorumKind {
    match s {
        "majority" => QuorumKind::Majority,
        "dissemination" => QuorumKind::Dissemination,
        "masking" => QuorumKind::Masking,
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn vote_rules_as_data() {
    let text = include_str!("testdata/votes.txt");
    let mut cases = 0;
    for block in text.split("\n\n") {
        let lines: Vec<&str> =
            block.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
        if lines.is_empty() {
            continue;
        }
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(header[0], "system", "{block}");
        let n: u32 = header[2].parse().unwrap();
        let system = QuorumSystem::new(kind(header[1]), n as usize, header[3].parse().unwrap()).unwrap();
        let ring = test_keyring(CLUSTER, (1..=n).map(NodeId));
        let mut c = VoteCollector::new(7, 1, system);
        let mut expect = "";
        for line in &lines[1..] {
            if let Some(rest) = line.strip_prefix("expect ") {
                expect = rest;
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let voter = NodeId(parts[0].parse().unwrap());
            let mut signer = voter;
            let mut round = 1;
            let mut flip = false;
            for flag in &parts[2..] {
                if let Some(k) = flag.strip_prefix("forged-by=") {
                    signer = NodeId(k.parse().unwrap());
                } else if let Some(r) = flag.strip_prefix("round=") {
                    round = r.parse().unwrap();
                } else if *flag == "flip" {
                    flip = true;
                } else if *flag != "stranger" {
                    panic!("unknown flag {flag}");
                }
            }
            let mut vote =
                Vote::sign(&test_key(CLUSTER, signer), 7, round, voter, parts[1].as_bytes().to_vec());
            if flip {
                vote.signature[5] ^= 0x10;
            }
            c.add(&ring, vote);
        }
        let mut counted = 0;
        for value in ["a", "b", "x", "v"] {
            counted += c.count(value.as_bytes());
        }
        for item in expect.split_whitespace() {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            match k {
                "quorum" => {
                    let qc = c.certificate().unwrap_or_else(|| panic!("no quorum in:\n{block}"));
                    assert_eq!(qc.value, v.as_bytes(), "{block}");
                    assert_eq!(qc.verify(&ring, &system), Ok(()), "{block}");
                }
                "no-quorum" => assert!(c.certificate().is_none(), "{block}"),
                "counted" => assert_eq!(counted, v.parse::<usize>().unwrap(), "{block}"),
                "evidence" => {
                    let got: Vec<String> = c.evidence().map(|e| e.culprit().0.to_string()).collect();
                    let want: Vec<String> =
                        if v == "none" { vec![] } else { v.split(',').map(String::from).collect() };
                    assert_eq!(got, want, "{block}");
                    for e in c.evidence() {
                        assert_eq!(e.verify(&ring), Ok(()), "evidence must convince a third party");
                    }
                }
                other => panic!("unknown expectation {other}"),
            }
        }
        cases += 1;
    }
    assert_eq!(cases, 8);
}

#[test]
fn a_duplicate_vote_is_not_verified_twice() {
    let ring = test_keyring(CLUSTER, (1..=4).map(NodeId));
    let system = QuorumSystem::new(QuorumKind::Dissemination, 4, 1).unwrap();
    let mut c = VoteCollector::new(1, 1, system);
    let v = Vote::sign(&test_key(CLUSTER, NodeId(1)), 1, 1, NodeId(1), b"a".to_vec());
    assert_eq!(c.add(&ring, v.clone()), Added::Counted { count: 1 });
    for _ in 0..10 {
        assert_eq!(c.add(&ring, v.clone()), Added::Duplicate);
    }
    assert_eq!(c.verifications(), 1);
}

#[test]
fn a_certificate_is_checked_by_a_third_party_and_tampering_is_caught() {
    let ring = test_keyring(CLUSTER, (1..=4).map(NodeId));
    let system = QuorumSystem::new(QuorumKind::Dissemination, 4, 1).unwrap();
    let mut c = VoteCollector::new(3, 9, system);
    for n in 1..=3 {
        c.add(&ring, Vote::sign(&test_key(CLUSTER, NodeId(n)), 3, 9, NodeId(n), b"v".to_vec()));
    }
    let qc = c.certificate().unwrap();
    assert_eq!(qc.verify(&ring, &system), Ok(()));
    let mut padded = qc.clone();
    padded.votes.push(padded.votes[0].clone());
    padded.votes.remove(1);
    assert_eq!(padded.verify(&ring, &system), Err(CertificateError::TooFew { got: 2, need: 3 }));
    let mut other = qc.clone();
    other.value = b"w".to_vec();
    assert_eq!(other.verify(&ring, &system), Err(CertificateError::Mismatch));
    let mut forged = qc;
    forged.votes[2].signature[0] ^= 1;
    assert!(matches!(forged.verify(&ring, &system), Err(CertificateError::Invalid(_))));
}

#[test]
fn evidence_that_does_not_prove_a_lie_is_rejected() {
    let ring = test_keyring(CLUSTER, (1..=4).map(NodeId));
    let a = Vote::sign(&test_key(CLUSTER, NodeId(1)), 1, 1, NodeId(1), b"a".to_vec());
    let b = Vote::sign(&test_key(CLUSTER, NodeId(1)), 1, 2, NodeId(1), b"b".to_vec());
    let same = EquivocationEvidence { first: a.clone(), second: a.clone() };
    assert_eq!(same.verify(&ring), Err(EvidenceError::SameValue));
    let rounds = EquivocationEvidence { first: a.clone(), second: b };
    assert_eq!(
        rounds.verify(&ring),
        Err(EvidenceError::NotComparable),
        "different rounds is not equivocation"
    );
    let framed = Vote::sign(&test_key(CLUSTER, NodeId(2)), 1, 1, NodeId(1), b"z".to_vec());
    let frame = EquivocationEvidence { first: a, second: framed };
    assert!(matches!(frame.verify(&ring), Err(EvidenceError::Invalid(_))), "nobody can frame node 1");
}
