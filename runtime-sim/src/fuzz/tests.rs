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
