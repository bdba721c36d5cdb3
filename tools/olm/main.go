// Command wso-olm writes and validates the operator's OLM bundle.
//
//	wso-olm generate -render <helm template output> -crds crds/speech.watson.dev.yaml \
//	    -examples deploy/examples -base tools/olm/csv-base.yaml -icon tools/olm/icon.svg \
//	    -version 0.1.0 -image watson-speech-operator:0.1.0 -out bundle
//	wso-olm validate bundle
//
// generate builds bundle/ from the same sources as the chart, so the two cannot drift: the
// Deployment, the ServiceAccount's RBAC and the metrics Service come from `helm template` of
// the chart (rendered with openshift=true, so the pod suits OpenShift's restricted-v2), the CRDs
// from crds/, alm-examples from deploy/examples/; only what OLM adds (display name, description,
// icon, install modes, maintainers, channels) lives in csv-base.yaml. The operator's watched
// namespaces come from the OperatorGroup: WSO_NAMESPACES reads the pod's
// olm.targetNamespaces annotation (empty for AllNamespaces, which the operator takes for every
// namespace). All RBAC goes into the CSV's namespaced permissions: OLM grants them in each
// target namespace, and cluster-wide for AllNamespaces.
//
// validate runs the validators of github.com/operator-framework/api that `operator-sdk bundle
// validate` runs by default (CSV, CRD, bundle) and those of its `suite=operatorframework`
// (OperatorHub v2, standard capabilities and categories, good practices, deprecated APIs for
// the k8s-version given). It prints every result and exits 1 on any error or warning.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	semver "github.com/blang/semver/v4"
	opversion "github.com/operator-framework/api/pkg/lib/version"
	apimanifests "github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apivalidation "github.com/operator-framework/api/pkg/validation"
	valerrors "github.com/operator-framework/api/pkg/validation/errors"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const packageName = "watson-speech-operator"

// channel is the bundle's only channel (and the default one).
const channel = "stable"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wso-olm generate|validate ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "generate":
		err = generate(os.Args[2:])
	case "validate":
		err = validate(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wso-olm:", err)
		os.Exit(1)
	}
}

// documents splits a multi-document YAML file into JSON objects, skipping empty documents.
func documents(data []byte) ([]map[string]any, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []map[string]any
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, err
		}
		if len(obj) > 0 {
			out = append(out, obj)
		}
	}
}

// convert turns a decoded object into a typed one.
func convert(obj map[string]any, into any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, into)
}

func generate(args []string) error {
	fs := flag.NewFlagSet("generate", flag.ExitOnError)
	render := fs.String("render", "", "the chart rendered by helm template (- for stdin)")
	crdsPath := fs.String("crds", "crds/speech.watson.dev.yaml", "the CRDs")
	examplesDir := fs.String("examples", "deploy/examples", "example manifests (alm-examples)")
	basePath := fs.String("base", "tools/olm/csv-base.yaml", "the CSV's OLM-only fields")
	iconPath := fs.String("icon", "tools/olm/icon.svg", "the icon (SVG)")
	version := fs.String("version", "", "the operator's version")
	image := fs.String("image", "", "the operator's image reference")
	out := fs.String("out", "bundle", "the bundle directory (replaced)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" || *image == "" || *render == "" {
		return errors.New("-render, -version and -image are required")
	}
	var rendered []byte
	var err error
	if *render == "-" {
		rendered, err = io.ReadAll(os.Stdin)
	} else {
		rendered, err = os.ReadFile(*render)
	}
	if err != nil {
		return err
	}
	objs, err := documents(rendered)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}

	var csv operatorsv1alpha1.ClusterServiceVersion
	base, err := os.ReadFile(*basePath)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(base, &csv); err != nil {
		return fmt.Errorf("%s: %w", *basePath, err)
	}
	csv.APIVersion = operatorsv1alpha1.SchemeGroupVersion.String()
	csv.Kind = operatorsv1alpha1.ClusterServiceVersionKind
	csv.Name = packageName + ".v" + *version
	v, err := semver.Parse(*version)
	if err != nil {
		return fmt.Errorf("-version: %w", err)
	}
	csv.Spec.Version = opversion.OperatorVersion{Version: v}
	icon, err := os.ReadFile(*iconPath)
	if err != nil {
		return err
	}
	csv.Spec.Icon = []operatorsv1alpha1.Icon{{Data: base64.StdEncoding.EncodeToString(icon), MediaType: "image/svg+xml"}}

	// The Deployment, RBAC and Service from the chart.
	var strategy operatorsv1alpha1.StrategyDetailsDeployment
	var extra []map[string]any
	serviceAccount := ""
	for _, obj := range objs {
		u := unstructured.Unstructured{Object: obj}
		switch u.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			if err := convert(obj, &d); err != nil {
				return err
			}
			if err := watchTargetNamespaces(&d); err != nil {
				return err
			}
			serviceAccount = d.Spec.Template.Spec.ServiceAccountName
			strategy.DeploymentSpecs = append(strategy.DeploymentSpecs, operatorsv1alpha1.StrategyDeploymentSpec{
				Name: d.Name, Spec: d.Spec, Label: olmLabels(d.Labels),
			})
		case "ClusterRole", "Role":
			var r rbacv1.ClusterRole
			if err := convert(obj, &r); err != nil {
				return err
			}
			strategy.Permissions = mergeRules(strategy.Permissions, r.Rules)
		case "Service":
			u.SetNamespace("")
			u.SetLabels(olmLabels(u.GetLabels()))
			extra = append(extra, u.Object)
		case "ServiceAccount", "ClusterRoleBinding", "RoleBinding":
			// OLM creates the ServiceAccount and binds the CSV's permissions to it.
		default:
			// ValidatingAdmissionPolicy (deletion protection) is no kind a bundle may carry:
			// docs/operations.md says to apply it separately.
		}
	}
	if len(strategy.DeploymentSpecs) != 1 || serviceAccount == "" {
		return errors.New("the chart must render exactly one Deployment with a ServiceAccount")
	}
	for i := range strategy.Permissions {
		strategy.Permissions[i].ServiceAccountName = serviceAccount
	}
	csv.Spec.InstallStrategy = operatorsv1alpha1.NamedInstallStrategy{
		StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment,
		StrategySpec: strategy,
	}

	// The CRDs, each with its description in the CSV.
	crdText, err := os.ReadFile(*crdsPath)
	if err != nil {
		return err
	}
	crdObjs, err := documents(crdText)
	if err != nil {
		return fmt.Errorf("crds: %w", err)
	}
	var crds []apiextensionsv1.CustomResourceDefinition
	for _, obj := range crdObjs {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := convert(obj, &crd); err != nil {
			return err
		}
		crds = append(crds, crd)
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			desc := ""
			if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
				desc = firstSentence(v.Schema.OpenAPIV3Schema.Description)
			}
			csv.Spec.CustomResourceDefinitions.Owned = append(csv.Spec.CustomResourceDefinitions.Owned,
				operatorsv1alpha1.CRDDescription{
					Name: crd.Name, Version: v.Name, Kind: crd.Spec.Names.Kind,
					DisplayName: displayName(crd.Spec.Names.Kind), Description: desc,
				})
		}
	}

	// alm-examples: every object of the CRDs' group in the examples, namespace dropped.
	examples, err := almExamples(*examplesDir, crds)
	if err != nil {
		return err
	}
	if csv.Annotations == nil {
		csv.Annotations = map[string]string{}
	}
	csv.Annotations["alm-examples"] = examples
	csv.Annotations["containerImage"] = *image
	var images []string
	for _, d := range strategy.DeploymentSpecs {
		for _, c := range d.Spec.Template.Spec.Containers {
			images = append(images, c.Image)
		}
	}
	if len(images) != 1 || images[0] != *image {
		return fmt.Errorf("the Deployment's image %v is not -image %q", images, *image)
	}
	csv.Spec.RelatedImages = []operatorsv1alpha1.RelatedImage{{Name: "operator", Image: *image}}

	// Write the bundle.
	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	manifests := filepath.Join(*out, "manifests")
	metadata := filepath.Join(*out, "metadata")
	for _, dir := range []string{manifests, metadata} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	header := "# Generated by `make bundle` (tools/olm) from the chart, crds/ and deploy/examples/. Do not edit.\n"
	if err := writeYAML(filepath.Join(manifests, packageName+".clusterserviceversion.yaml"), header, csv); err != nil {
		return err
	}
	for _, crd := range crdObjs {
		u := unstructured.Unstructured{Object: crd}
		if err := writeYAML(filepath.Join(manifests, u.GetName()+".yaml"), header, crd); err != nil {
			return err
		}
	}
	for _, obj := range extra {
		u := unstructured.Unstructured{Object: obj}
		name := fmt.Sprintf("%s_%s.yaml", u.GetName(), strings.ToLower(u.GetKind()))
		if err := writeYAML(filepath.Join(manifests, name), header, obj); err != nil {
			return err
		}
	}
	annotations := map[string]any{"annotations": bundleAnnotations()}
	if err := writeYAML(filepath.Join(metadata, "annotations.yaml"), header, annotations); err != nil {
		return err
	}
	var dockerfile bytes.Buffer
	dockerfile.WriteString(header + "FROM scratch\n")
	keys := sortedKeys(bundleAnnotations())
	for _, k := range keys {
		fmt.Fprintf(&dockerfile, "LABEL %s=%s\n", k, bundleAnnotations()[k])
	}
	dockerfile.WriteString("COPY manifests /manifests/\nCOPY metadata /metadata/\n")
	return os.WriteFile(filepath.Join(*out, "bundle.Dockerfile"), dockerfile.Bytes(), 0o644)
}

func bundleAnnotations() map[string]string {
	return map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
		"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
		"operators.operatorframework.io.bundle.package.v1":         packageName,
		"operators.operatorframework.io.bundle.channels.v1":        channel,
		"operators.operatorframework.io.bundle.channel.default.v1": channel,
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// watchTargetNamespaces makes WSO_NAMESPACES read the OperatorGroup's target namespaces, which
// OLM writes into the pod's olm.targetNamespaces annotation (comma-separated, empty for all).
func watchTargetNamespaces(d *appsv1.Deployment) error {
	for ci := range d.Spec.Template.Spec.Containers {
		c := &d.Spec.Template.Spec.Containers[ci]
		for ei := range c.Env {
			if c.Env[ei].Name == "WSO_NAMESPACES" {
				c.Env[ei].Value = ""
				c.Env[ei].ValueFrom = &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
					FieldPath: "metadata.annotations['olm.targetNamespaces']",
				}}
				return nil
			}
		}
	}
	return errors.New("the chart's Deployment has no WSO_NAMESPACES")
}

// olmLabels drops the labels only Helm means (its chart and manager).
func olmLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if k == "helm.sh/chart" || k == "app.kubernetes.io/managed-by" {
			continue
		}
		out[k] = v
	}
	return out
}

// mergeRules appends rules not already present (by their JSON form).
func mergeRules(perms []operatorsv1alpha1.StrategyDeploymentPermissions, rules []rbacv1.PolicyRule) []operatorsv1alpha1.StrategyDeploymentPermissions {
	if len(perms) == 0 {
		perms = []operatorsv1alpha1.StrategyDeploymentPermissions{{}}
	}
	seen := map[string]bool{}
	for _, r := range perms[0].Rules {
		b, _ := json.Marshal(r)
		seen[string(b)] = true
	}
	for _, r := range rules {
		b, _ := json.Marshal(r)
		if !seen[string(b)] {
			perms[0].Rules = append(perms[0].Rules, r)
			seen[string(b)] = true
		}
	}
	return perms
}

// displayName splits a kind into words: CustomLanguageModel -> Custom Language Model.
func displayName(kind string) string {
	var b strings.Builder
	for i, r := range kind {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// firstSentence is a CRD description's first paragraph (the doc comment's summary).
func firstSentence(desc string) string {
	para, _, _ := strings.Cut(strings.TrimSpace(desc), "\n\n")
	return strings.Join(strings.Fields(para), " ")
}

func almExamples(dir string, crds []apiextensionsv1.CustomResourceDefinition) (string, error) {
	kinds := map[string]bool{}
	for _, crd := range crds {
		kinds[crd.Spec.Group+"/"+crd.Spec.Names.Kind] = true
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return "", err
	}
	// deploy/examples/legacy/: the acoustic model (previous-generation base models), so that
	// every owned CRD has an example.
	legacy, err := filepath.Glob(filepath.Join(dir, "legacy", "*.yaml"))
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	sort.Strings(legacy)
	files = append(files, legacy...)
	var examples []map[string]any
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		objs, err := documents(data)
		if err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		for _, obj := range objs {
			u := unstructured.Unstructured{Object: obj}
			if !kinds[u.GroupVersionKind().Group+"/"+u.GetKind()] {
				continue
			}
			u.SetNamespace("")
			examples = append(examples, u.Object)
		}
	}
	if len(examples) == 0 {
		return "", fmt.Errorf("no example of the CRDs in %s", dir)
	}
	b, err := json.MarshalIndent(examples, "", "  ")
	return string(b), err
}

func writeYAML(path, header string, obj any) error {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(header), b...), 0o644)
}

func validate(args []string) error {
	fs := flag.NewFlagSet("validate", flag.ExitOnError)
	k8sVersion := fs.String("k8s-version", "1.30", "the oldest Kubernetes the bundle claims (deprecated-API check)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: wso-olm validate [-k8s-version V] <bundle dir>")
	}
	bundle, err := apimanifests.GetBundleFromDir(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("load %s: %w", fs.Arg(0), err)
	}
	objs := bundle.ObjectsToValidate()
	// The optional validators read their options from a map among the objects.
	optional := append(objs, map[string]string{"k8s-version": *k8sVersion})
	var results []valerrors.ManifestResult
	results = append(results, apivalidation.DefaultBundleValidators.Validate(objs...)...)
	results = append(results, apivalidation.OperatorHubV2Validator.Validate(optional...)...)
	results = append(results, apivalidation.StandardCapabilitiesValidator.Validate(optional...)...)
	results = append(results, apivalidation.StandardCategoriesValidator.Validate(optional...)...)
	results = append(results, apivalidation.GoodPracticesValidator.Validate(optional...)...)
	results = append(results, apivalidation.AlphaDeprecatedAPIsValidator.Validate(optional...)...)
	problems := 0
	for _, r := range results {
		for _, e := range r.Errors {
			fmt.Printf("ERROR %s: %s\n", r.Name, e.Error())
			problems++
		}
		for _, w := range r.Warnings {
			fmt.Printf("WARN %s: %s\n", r.Name, w.Error())
			problems++
		}
	}
	fmt.Printf("validators: default (csv, crd, bundle), operatorhub v2, standard capabilities, standard categories, good practices, deprecated APIs (k8s %s): %d problems\n", *k8sVersion, problems)
	if problems > 0 {
		return fmt.Errorf("%d errors or warnings", problems)
	}
	return nil
}
