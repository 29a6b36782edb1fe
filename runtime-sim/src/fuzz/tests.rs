use super::generate::{Source, generate};
use super::shape::{Shape, shape_of};
use palisade_core::{NodeId, Rng};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Msg {
    Ping,
    Vote { instance: u64, from: NodeId, value: Option<i32> },
    Batch(Vec<(u8, String)>),
    Sig(#[serde(with = "serde_bytes")] Vec<u8>),
    Table(BTreeMap<u32, bool>),
    Pair(u16, f64),
}

fn draw(rng: &mut Rng, template: Option<&Shape>, keep: f64) -> Msg {
    let members = [NodeId(1), NodeId(2), NodeId(3)];
    let mut src = Source { rng, members: &members, keep };
    generate::<Msg>(&mut src, template).expect("a derived type accepts every typed draw")
}

#[test]
fn a_shape_with_keep_one_regenerates_the_same_value() {
    let mut rng = Rng::from_seed(1);
    for m in [
        Msg::Ping,
        Msg::Vote { instance: 7, from: NodeId(2), value: Some(-3) },
        Msg::Batch(vec![(1, "a".into()), (2, "bc".into())]),
        Msg::Sig(vec![9; 64]),
        Msg::Table([(1, true), (5, false)].into_iter().collect()),
        Msg::Pair(3, 0.5),
    ] {
        let shape = shape_of(&m).unwrap();
        assert_eq!(draw(&mut rng, Some(&shape), 1.0), m);
    }
}

#[test]
fn every_variant_and_the_boundaries_are_reached() {
    let mut rng = Rng::from_seed(2);
    let mut variants = BTreeSet::new();
    let (mut max, mut zero, mut past, mut foreign_id, mut long) = (false, false, false, false, false);
    let template = shape_of(&Msg::Vote { instance: 41, from: NodeId(1), value: None }).unwrap();
    for i in 0..2000 {
        let m = draw(&mut rng, if i % 2 == 0 { Some(&template) } else { None }, 0.5);
        variants.insert(match &m {
            Msg::Ping => 0,
            Msg::Vote { .. } => 1,
            Msg::Batch(_) => 2,
            Msg::Sig(_) => 3,
            Msg::Table(_) => 4,
            Msg::Pair(..) => 5,
        });
        match m {
            Msg::Vote { instance, from, .. } => {
                max |= instance == u64::MAX;
                zero |= instance == 0;
                past |= instance == 42;
                foreign_id |= from.0 == 0 || from.0 > 3;
            }
            Msg::Batch(v) => long |= v.len() >= 64,
            _ => {}
        }
    }
    assert_eq!(variants.len(), 6, "every variant drawn");
    assert!(max && zero && past && foreign_id && long, "{max} {zero} {past} {foreign_id} {long}");
}

#[test]
fn a_type_that_validates_can_refuse_and_the_draw_says_so() {
    #[derive(Debug, Deserialize)]
    #[serde(try_from = "u8")]
    struct Small(#[allow(dead_code)] u8);
    impl TryFrom<u8> for Small {
        type Error = String;
        fn try_from(v: u8) -> Result<Self, String> {
            if v < 10 { Ok(Small(v)) } else { Err(format!("{v} too big")) }
        }
    }
    let mut rng = Rng::from_seed(3);
    let members = [NodeId(1)];
    let mut refused = 0;
    for _ in 0..200 {
        let mut src = Source { rng: &mut rng, members: &members, keep: 0.0 };
        refused += usize::from(generate::<Small>(&mut src, None).is_err());
    }
    assert!(refused > 0 && refused < 200, "{refused}");
}

mod planted {
    use super::super::Fuzz;
    use crate::{NO_PANIC, SimConfig, Simulation};
    use palisade_core::protocol::{Init, Outbox, OutputFor, Protocol};
    use palisade_core::{Instant, NodeId, Now};
    use serde::{Deserialize, Serialize};
    use std::time::Duration;

    /// Every 100 ms each node tells everyone its count; receivers keep one past the highest
    /// they heard, with `checked_add` (the planted bug: `expect` on overflow) or saturating.
    struct Counter {
        peers: Vec<NodeId>,
        count: u64,
        next: Instant,
        outbox: Outbox<Count, (), ()>,
    }

    #[derive(Clone, Debug, Serialize, Deserialize)]
    struct Count(u64);

    impl Protocol for Counter {
        type Message = Count;
        type Command = std::convert::Infallible;
        type Reply = palisade_core::NoReply;
        type Event = ();
        type Config = bool;
        type Durable = ();
        fn new(init: Init<Self>) -> Self {
            let peers = init.peers().collect();
            Counter { peers, count: u64::from(init.config), next: init.now.mono, outbox: Outbox::new() }
        }
        fn handle_message(&mut self, _: Now, _: NodeId, Count(n): Count) {
            // `count`'s low bit says which variant runs: 1 = buggy.
            let next = if self.count & 1 == 1 {
                n.checked_add(1).expect("count overflow")
            } else {
                n.saturating_add(1)
            };
            self.count = (self.count.max(next) & !1) | (self.count & 1);
        }
        fn handle_command(&mut self, _: Now, _req: palisade_core::RequestId, c: Self::Command) {
            match c {}
        }
        fn handle_timeout(&mut self, now: Now) {
            if now.mono >= self.next {
                for &p in &self.peers {
                    self.outbox.send(p, Count(self.count >> 1));
                }
                self.next = now.mono + Duration::from_millis(100);
            }
        }
        fn poll_output(&mut self) -> Option<OutputFor<Self>> {
            self.outbox.pop()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            Some(self.next)
        }
    }

    fn run(buggy: bool, seed: u64) -> Option<&'static str> {
        let mut sim = Simulation::<Counter>::new(SimConfig::new(seed, 3), buggy);
        sim.make_byzantine(NodeId(3), Fuzz::new());
        sim.run_for(Duration::from_secs(10)).violation.map(|v| v.checker)
    }

    #[test]
    fn the_fuzzer_finds_a_planted_overflow_and_nothing_once_it_is_fixed() {
        let found: Vec<_> = (1..=5).filter_map(|s| run(true, s)).collect();
        assert_eq!(found, vec![NO_PANIC; 5], "every seed reaches u64::MAX within 10 s");
        assert!((1..=5).all(|s| run(false, s).is_none()));
    }
}
