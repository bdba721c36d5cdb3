//! The operator in its ecosystem: the Helm chart and its policies (`chart`), the printer columns
//! in `kubectl get` (`columns`), the CRDs' validation (`crd_validation`), GitOps health tools
//! (`gitops_health`: kstatus and the Argo CD script), the chart's pod against OpenShift's
//! restricted-v2 SCC (`openshift`), the OLM bundle (`olm`), the OCI image (`image`) and IBM's Python SDK against the
//! simulator (`sdk_python`). They share one control plane; tests that run an operator do so
//! watching only their own namespaces.

#[path = "../support/mod.rs"]
mod support;

mod chart;
mod columns;
mod crd_validation;
mod gitops_health;
mod image;
mod olm;
mod openshift;
mod sdk_python;
