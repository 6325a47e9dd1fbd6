//! The kinds kept by [`super::Objects`], each with its resource name, scope and name rule (as
//! kube-apiserver's registry for the kind has them), in one place.

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};

use super::StoredObject;
use super::meta::NameRule;

/// Namespaces: cluster-scoped, DNS-1123 label names. A `PUT` keeps the stored status and
/// `spec.finalizers`, as kube-apiserver's namespace strategy does (they change through `/status`
/// and `/finalize`, and through deletion).
impl StoredObject for Namespace {
    const RESOURCE: &'static str = "namespaces";
    const NAMESPACED: bool = false;
    const NAME_RULE: NameRule = NameRule::Label;

    fn keep_on_replace(&mut self, stored: &Self) {
        self.status.clone_from(&stored.status);
        self.spec.clone_from(&stored.spec);
    }
}

/// ResourceQuotas: namespaced, DNS-1123 subdomain names. A `PUT` keeps the stored status
/// (the used amounts), as kube-apiserver's resourcequota strategy does.
impl StoredObject for ResourceQuota {
    const RESOURCE: &'static str = "resourcequotas";
    const NAMESPACED: bool = true;
    const NAME_RULE: NameRule = NameRule::Subdomain;

    fn keep_on_replace(&mut self, stored: &Self) {
        self.status.clone_from(&stored.status);
    }
}
