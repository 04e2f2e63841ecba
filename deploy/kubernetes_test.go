package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// decodeStrict decodes a YAML document into obj as the API server does:
// field names match case-sensitively, and an unknown or duplicated field is
// an error. (yaml.UnmarshalStrict alone matches names case-insensitively, so
// readOnlyRootFileSystem would pass.)
func decodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// object is one decoded manifest.
type object struct {
	file string
	kind string
	name string
	obj  any
}

// newObject returns an empty value of the API type of apiVersion/kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "batch/v1/CronJob":
		return &batchv1.CronJob{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	}
	return nil, fmt.Errorf("apiVersion %q kind %q: not a type this test knows; add it to newObject", apiVersion, kind)
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decodeManifests strictly decodes every document of every kubernetes/*.yaml:
// an unknown or misspelt field, or a value of the wrong type, is an error.
func decodeManifests(t *testing.T) []object {
	t.Helper()
	return decodeManifestsIn(t, "kubernetes")
}

// decodeManifestsIn strictly decodes every document of every dir/*.yaml.
func decodeManifestsIn(t *testing.T, dir string) []object {
	t.Helper()
	files, err := filepath.Glob(dir + "/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s/ (%v)", dir, err)
	}
	var objs []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Errorf("%s document %d: %v", f, i+1, err)
				continue
			}
			obj, err := newObject(tm.APIVersion, tm.Kind)
			if err != nil {
				t.Errorf("%s document %d: %v", f, i+1, err)
				continue
			}
			if err := decodeStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s document %d (%s): %v", f, i+1, tm.Kind, err)
				continue
			}
			meta := obj.(metav1.Object)
			objs = append(objs, object{file: f, kind: tm.Kind, name: meta.GetName(), obj: obj})
		}
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestManifests_DecodeStrictly(t *testing.T) {
	objs := decodeManifests(t)
	var kinds []string
	for _, o := range objs {
		if o.name == "" {
			t.Errorf("%s: a %s without metadata.name", o.file, o.kind)
		}
		kinds = append(kinds, o.kind)
	}
	for _, want := range []string{"ConfigMap", "Secret", "PersistentVolumeClaim", "CronJob", "Deployment", "Service"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("no %s among the manifests (have %v)", want, kinds)
		}
	}
}

func TestManifests_StrictDecodingCatchesTypos(t *testing.T) {
	for field, doc := range map[string]string{
		"concurencyPolicy":       "spec:\n  concurencyPolicy: Forbid\n",
		"readOnlyRootFileSystem": "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - name: x\n            securityContext:\n              readOnlyRootFileSystem: true\n",
		"schedule":               "spec:\n  schedule: 5\n",
	} {
		doc = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\n" + doc
		err := decodeStrict([]byte(doc), &batchv1.CronJob{})
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("decoding a bad %s = %v, want an error naming it", field, err)
		}
	}
}

func find[T any](t *testing.T, objs []object) *T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.obj.(*T); ok {
			return v
		}
	}
	t.Fatalf("no %T among the manifests", new(T))
	return nil
}

func TestManifests_CronJobRunsOneSyncAtATimeLockedDown(t *testing.T) {
	objs := decodeManifests(t)
	cj := find[batchv1.CronJob](t, objs)
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	c := onlyContainer(t, pod)
	if len(c.Args) == 0 || c.Args[0] != "sync" {
		t.Errorf("args %v, want dirsync sync", c.Args)
	}
	checkPod(t, "CronJob", pod, objs)
}

func TestManifests_DeploymentRunsOneServiceWithProbes(t *testing.T) {
	objs := decodeManifests(t)
	d := find[appsv1.Deployment](t, objs)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q, want Recreate (one writer of the snapshot)", d.Spec.Strategy.Type)
	}
	pod := d.Spec.Template.Spec
	c := onlyContainer(t, pod)
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Errorf("args %v, want dirsync run", c.Args)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want GET /healthz", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want GET /readyz", c.ReadinessProbe)
	}
	listen := ""
	for _, e := range c.Env {
		if e.Name == "DIRSYNC_LISTEN" {
			listen = e.Value
		}
	}
	if listen != "0.0.0.0:9464" {
		t.Errorf("DIRSYNC_LISTEN %q: the probes come from outside the container, want 0.0.0.0:9464", listen)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == 9464 }) {
		t.Errorf("ports %+v: want 9464", c.Ports)
	}
	if !metav1SelectorMatches(d.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("selector %v does not match the pod's labels %v", d.Spec.Selector, d.Spec.Template.Labels)
	}
	checkPod(t, "Deployment", pod, objs)
}

func TestManifests_ConfigMapHoldsNoSecret(t *testing.T) {
	cm := find[corev1.ConfigMap](t, decodeManifests(t))
	cfg, ok := cm.Data["dirsync.yaml"]
	if !ok {
		t.Fatalf("ConfigMap has no dirsync.yaml: %v", cm.Data)
	}
	var parsed map[string]any
	if err := yaml.Unmarshal([]byte(cfg), &parsed); err != nil {
		t.Fatalf("dirsync.yaml in the ConfigMap: %v", err)
	}
	for _, key := range []string{"bind_password:", "token:"} {
		if regexp.MustCompile(`(?m)^\s*` + key).MatchString(cfg) {
			t.Errorf("the ConfigMap sets %s; secrets belong in the Secret (use the _file key)", key)
		}
	}
}

func onlyContainer(t *testing.T, pod corev1.PodSpec) corev1.Container {
	t.Helper()
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	return pod.Containers[0]
}

// checkPod checks what both workloads share: non-root, read-only root
// filesystem, no privilege escalation, and volumes that exist and refer to
// the manifests' ConfigMap, Secret and PersistentVolumeClaim.
func checkPod(t *testing.T, what string, pod corev1.PodSpec, objs []object) {
	t.Helper()
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("%s: pod securityContext %+v, want runAsNonRoot and a non-zero runAsUser", what, sc)
	}
	c := pod.Containers[0]
	csc := c.SecurityContext
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: container securityContext %+v, want readOnlyRootFilesystem, no privilege escalation, all capabilities dropped", what, csc)
	}
	names := map[string]string{}
	for _, o := range objs {
		names[o.kind+"/"+o.name] = o.file
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
		var ref string
		switch {
		case v.ConfigMap != nil:
			ref = "ConfigMap/" + v.ConfigMap.Name
		case v.Secret != nil:
			ref = "Secret/" + v.Secret.SecretName
		case v.PersistentVolumeClaim != nil:
			ref = "PersistentVolumeClaim/" + v.PersistentVolumeClaim.ClaimName
		}
		if _, ok := names[ref]; ref != "" && !ok {
			t.Errorf("%s: volume %s refers to %s, which no manifest defines", what, v.Name, ref)
		}
	}
	var mounts []string
	for _, m := range c.VolumeMounts {
		if _, ok := vols[m.Name]; !ok {
			t.Errorf("%s: volumeMount %s has no volume", what, m.Name)
		}
		mounts = append(mounts, m.MountPath)
	}
	for _, want := range []string{"/etc/dirsync/dirsync.yaml", "/var/lib/dirsync", "/etc/dirsync/credentials"} {
		if !slices.Contains(mounts, want) {
			t.Errorf("%s: nothing mounted at %s (mounts %v)", what, want, mounts)
		}
	}
	cm := find[corev1.ConfigMap](t, objs)
	cfg := cm.Data["dirsync.yaml"]
	for _, path := range []string{"/var/lib/dirsync/state.db", "/etc/dirsync/credentials/ldap-password", "/etc/dirsync/credentials/platform-token"} {
		if !bytes.Contains([]byte(cfg), []byte(path)) {
			t.Errorf("the ConfigMap's dirsync.yaml does not use %s, where %s mounts it", path, what)
		}
	}
}

func metav1SelectorMatches(sel *metav1.LabelSelector, labels map[string]string) bool {
	if sel == nil || len(sel.MatchLabels) == 0 {
		return false
	}
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestManifests_PostgresVariantRunsTwoReplicasOnTheSharedDatabase: the
// active/standby variant (kubernetes/postgres/) runs two `dirsync run`
// replicas, spread over nodes, kept at one or more through disruptions,
// locked down as the others, with the database's password from the Secret
// and no volume for a snapshot file.
func TestManifests_PostgresVariantRunsTwoReplicasOnTheSharedDatabase(t *testing.T) {
	objs := decodeManifestsIn(t, "kubernetes/postgres")
	base := decodeManifests(t)
	d := find[appsv1.Deployment](t, objs)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %q, want RollingUpdate (a standby stays up)", d.Spec.Strategy.Type)
	}
	pod := d.Spec.Template.Spec
	if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 ||
		a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("affinity %+v: want the replicas spread over nodes", pod.Affinity)
	}
	c := onlyContainer(t, pod)
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Errorf("args %v, want dirsync run", c.Args)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want GET /healthz", c.LivenessProbe)
	}
	secrets := map[string]bool{}
	for _, o := range base {
		if s, ok := o.obj.(*corev1.Secret); ok {
			for k := range s.StringData {
				secrets[s.Name+"/"+k] = true
			}
		}
	}
	var pgpass bool
	for _, e := range c.Env {
		if e.Name == "PGPASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			pgpass = secrets[ref.Name+"/"+ref.Key]
		}
	}
	if !pgpass {
		t.Errorf("env %+v: want PGPASSWORD from a key of the example Secret", c.Env)
	}
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			t.Errorf("volume %s: a PersistentVolumeClaim; the snapshot is in the database", v.Name)
		}
		if v.ConfigMap != nil && !slices.ContainsFunc(objs, func(o object) bool { return o.kind == "ConfigMap" && o.name == v.ConfigMap.Name }) {
			t.Errorf("volume %s: ConfigMap %s is not in kubernetes/postgres/", v.Name, v.ConfigMap.Name)
		}
	}
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("pod securityContext %+v, want runAsNonRoot", sc)
	}
	if csc := c.SecurityContext; csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("container securityContext %+v, want readOnlyRootFilesystem and no privilege escalation", csc)
	}
	pdb := find[policyv1.PodDisruptionBudget](t, objs)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || !metav1SelectorMatches(pdb.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget %+v: want minAvailable 1 over the replicas", pdb.Spec)
	}
	cm := find[corev1.ConfigMap](t, objs)
	cfg := cm.Data["dirsync.yaml"]
	for _, want := range []string{"driver: postgres", "url: postgres://"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("the ConfigMap's dirsync.yaml has no %q", want)
		}
	}
	if regexp.MustCompile(`postgres://[^/@]*:[^/@]*@`).MatchString(cfg) {
		t.Error("the ConfigMap's state.url holds a password; it belongs in the Secret (PGPASSWORD)")
	}
}
