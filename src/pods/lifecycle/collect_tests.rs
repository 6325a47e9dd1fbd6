//! Unit tests of a collection pass's bookkeeping (no I/O).

use super::*;

fn vm(zone: &str, name: &str, uid: &str) -> VmRef {
    VmRef {
        zone: zone.into(),
        name: name.into(),
        id: None,
        uid: uid.into(),
        status: None,
        created: None,
    }
}

#[test]
fn a_record_finds_the_vms_of_its_name_and_uid_in_every_zone() {
    let mut listed = Listed::default();
    for v in [
        vm("z1", "a", "u1"),
        vm("z2", "a", "u1"),
        vm("z1", "a", "u2"),
        vm("z1", "b", "u1"),
    ] {
        listed.push(v, true);
    }
    assert_eq!(listed.of_pod("a", "u1").collect::<Vec<_>>(), [0, 1]);
    assert_eq!(listed.of_pod("a", "u2").collect::<Vec<_>>(), [2]);
    assert_eq!(listed.of_pod("b", "u2").count(), 0, "another pod's VM");
    assert_eq!(listed.of_pod("c", "u1").count(), 0, "no VM of that name");
}
