package k8s

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/mailhaul/mailhaul/internal/cause"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func intp(i int) *int { return &i }

// permanent is the FailIndex exit codes o asks for: mailhaul's
// (cause.NotRetried) by default.
func permanent(o Options) []int32 {
	codes := o.PermanentExitCodes
	if codes == nil {
		codes = cause.NotRetried
	}
	var out []int32
	for _, c := range codes {
		out = append(out, int32(c))
	}
	return out
}

func cases() map[string]Options {
	return map[string]Options{
		"basic": {
			Name: "mailhaul-night", Image: "registry.example.org/mailhaul:1.4.0",
			Shards: 4, Stage: "full", PlanConfigMap: "migration-plan", Secret: "migration-secrets",
			DataClaim: "mailhaul-data", BackoffLimitPerIndex: 3,
		},
		"delta-resources": {
			Name: "cutover", Namespace: "mail", Image: "registry.example.org/mailhaul@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			Command: []string{"/usr/local/bin/mailhaul"}, Shards: 16, Stage: "delta", Args: []string{"--retry-failed"},
			PlanConfigMap: "plan.v2", PlanKey: "night.toml", DataClaim: "shared-rwx",
			PermanentExitCodes: []int{cause.ExitPermanent}, BackoffLimitPerIndex: 2, MaxFailedIndexes: intp(4),
			Requests: map[string]string{"cpu": "500m", "memory": "512Mi"},
			Limits:   map[string]string{"memory": "2Gi", "ephemeral-storage": "20Gi"},
		},
	}
}

// The rendered Jobs are compared with testdata/NAME.yaml, written by
// `go test ./migrate/k8s -update` and reviewed by hand.
func TestRenderGolden(t *testing.T) {
	for name, o := range cases() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, o); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".yaml")
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Render differs from %s (go test -update rewrites it):\n%s", golden, buf.String())
			}
		})
	}
}

// decode reads a rendered Job into the real API type, failing on any field
// the type does not have.
func decode(t *testing.T, o Options) *batchv1.Job {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, o); err != nil {
		t.Fatal(err)
	}
	var j batchv1.Job
	if err := yaml.UnmarshalStrict(buf.Bytes(), &j); err != nil {
		t.Fatalf("strict decode into batchv1.Job: %v\n%s", err, buf.String())
	}
	return &j
}

func TestRenderDecodesStrictly(t *testing.T) {
	for name, o := range cases() {
		t.Run(name, func(t *testing.T) {
			j := decode(t, o)
			if err := validate(j); err != nil {
				t.Fatal(err)
			}
			s := j.Spec
			n := int32(o.Shards)
			if *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != n || *s.Parallelism != n {
				t.Errorf("completionMode %v, completions %d, parallelism %d; want Indexed, %d, %d", *s.CompletionMode, *s.Completions, *s.Parallelism, n, n)
			}
			if *s.BackoffLimitPerIndex != int32(o.BackoffLimitPerIndex) || *s.PodReplacementPolicy != batchv1.Failed {
				t.Errorf("backoffLimitPerIndex %d, podReplacementPolicy %v", *s.BackoffLimitPerIndex, *s.PodReplacementPolicy)
			}
			if (o.MaxFailedIndexes == nil) != (s.MaxFailedIndexes == nil) || (o.MaxFailedIndexes != nil && *s.MaxFailedIndexes != int32(*o.MaxFailedIndexes)) {
				t.Errorf("maxFailedIndexes %v, want %v", s.MaxFailedIndexes, o.MaxFailedIndexes)
			}
			rules := s.PodFailurePolicy.Rules
			if len(rules) != 2 || rules[0].Action != batchv1.PodFailurePolicyActionFailIndex ||
				!slices.Equal(rules[0].OnExitCodes.Values, permanent(o)) ||
				rules[1].Action != batchv1.PodFailurePolicyActionIgnore || rules[1].OnPodConditions[0].Type != corev1.DisruptionTarget {
				t.Errorf("podFailurePolicy %+v: want FailIndex on exit %v, then Ignore on DisruptionTarget", rules, permanent(o))
			}
			c := s.Template.Spec.Containers[0]
			wantArgs := append([]string{"migrate", "run", "/etc/mailhaul/plan/" + cmp(o.PlanKey, "plan.toml"), "--stage", o.Stage, "--shard-count", fmt.Sprint(o.Shards)}, o.Args...)
			if !slices.Equal(c.Args, wantArgs) || c.Image != o.Image {
				t.Errorf("container runs %s %q, want %s %q", c.Image, c.Args, o.Image, wantArgs)
			}
			vols := map[string]corev1.Volume{}
			for _, v := range s.Template.Spec.Volumes {
				vols[v.Name] = v
			}
			if v := vols["plan"]; v.ConfigMap == nil || v.ConfigMap.Name != o.PlanConfigMap {
				t.Errorf("plan volume %+v, want ConfigMap %s", v, o.PlanConfigMap)
			}
			if v := vols["data"]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != o.DataClaim {
				t.Errorf("data volume %+v, want claim %s", v, o.DataClaim)
			}
			if v, ok := vols["secrets"]; ok != (o.Secret != "") || (ok && (v.Secret.SecretName != o.Secret || *v.Secret.DefaultMode != 0o400)) {
				t.Errorf("secrets volume %+v, want %q mode 0400", v, o.Secret)
			}
			for _, m := range c.VolumeMounts {
				if m.ReadOnly != (m.Name != "data") {
					t.Errorf("mount %s read-only %v: only the data volume is writable", m.Name, m.ReadOnly)
				}
			}
			for k, v := range o.Requests {
				if q := c.Resources.Requests[corev1.ResourceName(k)]; q.String() != v {
					t.Errorf("request %s = %s, want %s", k, q.String(), v)
				}
			}
		})
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// validate re-checks the API server's rules for the fields Render writes
// (k8s.io/kubernetes pkg/apis/batch/validation), as no server is at hand.
func validate(j *batchv1.Job) error {
	s := j.Spec
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
	if indexed && s.Completions == nil {
		bad("an Indexed Job needs completions")
	}
	if s.Completions != nil && s.Parallelism != nil && *s.Parallelism > *s.Completions {
		bad("parallelism %d exceeds completions %d", *s.Parallelism, *s.Completions)
	}
	if s.BackoffLimitPerIndex != nil {
		if !indexed {
			bad("backoffLimitPerIndex needs completionMode Indexed")
		}
		if s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			bad("backoffLimitPerIndex needs restartPolicy Never, not %q", s.Template.Spec.RestartPolicy)
		}
		if s.Completions != nil && *s.Completions > 100000 {
			bad("backoffLimitPerIndex allows at most 100000 completions")
		}
	}
	if m := s.MaxFailedIndexes; m != nil {
		if s.BackoffLimitPerIndex == nil {
			bad("maxFailedIndexes needs backoffLimitPerIndex")
		}
		if s.Completions != nil && *m > *s.Completions {
			bad("maxFailedIndexes %d exceeds completions %d", *m, *s.Completions)
		}
	}
	if p := s.PodFailurePolicy; p != nil {
		if s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			bad("podFailurePolicy needs restartPolicy Never")
		}
		if s.PodReplacementPolicy != nil && *s.PodReplacementPolicy != batchv1.Failed {
			bad("podFailurePolicy needs podReplacementPolicy Failed")
		}
		for i, r := range p.Rules {
			if r.Action == batchv1.PodFailurePolicyActionFailIndex && s.BackoffLimitPerIndex == nil {
				bad("rule %d: FailIndex needs backoffLimitPerIndex", i)
			}
			if (r.OnExitCodes == nil) == (len(r.OnPodConditions) == 0) {
				bad("rule %d: exactly one of onExitCodes and onPodConditions", i)
			}
			if e := r.OnExitCodes; e != nil {
				if len(e.Values) == 0 || len(e.Values) > 255 || (e.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && slices.Contains(e.Values, 0)) {
					bad("rule %d: exit codes %v", i, e.Values)
				}
				if e.ContainerName != nil && !slices.ContainsFunc(s.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == *e.ContainerName }) {
					bad("rule %d: no container %q", i, *e.ContainerName)
				}
			}
		}
	}
	for _, c := range s.Template.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if !slices.ContainsFunc(s.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
				bad("mount %s: no such volume", m.Name)
			}
		}
	}
	return errors.Join(errs...)
}

// The checker itself must bite: each mutation of a good Job breaks one rule.
func TestValidateRejects(t *testing.T) {
	for name, mutate := range map[string]func(*batchv1.Job){
		"no completions":       func(j *batchv1.Job) { j.Spec.Completions = nil },
		"parallelism":          func(j *batchv1.Job) { *j.Spec.Parallelism = *j.Spec.Completions + 1 },
		"restart OnFailure":    func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
		"FailIndex no limit":   func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = nil; j.Spec.MaxFailedIndexes = nil },
		"max failed":           func(j *batchv1.Job) { *j.Spec.MaxFailedIndexes = *j.Spec.Completions + 1 },
		"exit code 0":          func(j *batchv1.Job) { j.Spec.PodFailurePolicy.Rules[0].OnExitCodes.Values = []int32{0} },
		"replacement":          func(j *batchv1.Job) { p := batchv1.TerminatingOrFailed; j.Spec.PodReplacementPolicy = &p },
		"mount without volume": func(j *batchv1.Job) { j.Spec.Template.Spec.Volumes = j.Spec.Template.Spec.Volumes[1:] },
	} {
		j := decode(t, cases()["delta-resources"])
		mutate(j)
		if err := validate(j); err == nil {
			t.Errorf("%s: validate accepted it", name)
		}
	}
}

func TestRenderRejects(t *testing.T) {
	for name, c := range map[string]struct {
		mutate func(*Options)
		want   string
	}{
		"no shards":         {func(o *Options) { o.Shards = 0 }, "shards 0"},
		"name":              {func(o *Options) { o.Name = "Night_Run" }, `name "Night_Run"`},
		"name too long":     {func(o *Options) { o.Name = strings.Repeat("a", 61) }, "at most 60 characters with 16 shards"},
		"stage":             {func(o *Options) { o.Stage = "cutover" }, `stage "cutover"`},
		"no image":          {func(o *Options) { o.Image = "" }, "no image"},
		"plan":              {func(o *Options) { o.PlanConfigMap = "" }, `plan ConfigMap ""`},
		"claim":             {func(o *Options) { o.DataClaim = "Data" }, `data claim "Data"`},
		"plan key":          {func(o *Options) { o.PlanKey = "../plan.toml" }, `plan key "../plan.toml"`},
		"exit 0":            {func(o *Options) { o.PermanentExitCodes = []int{0} }, "permanent exit code 0"},
		"exit 256":          {func(o *Options) { o.PermanentExitCodes = []int{4, 256} }, "permanent exit code 256"},
		"exit order":        {func(o *Options) { o.PermanentExitCodes = []int{16, 4} }, "in increasing order"},
		"backoff":           {func(o *Options) { o.BackoffLimitPerIndex = -1 }, "backoff limit per index -1"},
		"max failed":        {func(o *Options) { o.MaxFailedIndexes = intp(17) }, "max failed indexes 17"},
		"resource name":     {func(o *Options) { o.Requests = map[string]string{"gpu": "1"} }, "request gpu"},
		"resource amount":   {func(o *Options) { o.Limits = map[string]string{"memory": "2 GB"} }, `limit memory="2 GB"`},
		"all named at once": {func(o *Options) { o.Image, o.Stage = "", "" }, "2 problems"},
	} {
		o := cases()["delta-resources"]
		c.mutate(&o)
		err := Render(&bytes.Buffer{}, o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Render = %v, want an error containing %q", name, err, c.want)
		}
	}
}

// What Render accepts as a quantity, the API's parser accepts too; the
// common forms are accepted.
func TestQuantityAgreesWithAPI(t *testing.T) {
	common := []string{"1", "0.5", ".5", "500m", "512Mi", "2Gi", "1e3", "1E-3", "3k", "1.5G", "4Ei"}
	for _, q := range append(common, "2 GB", "1gi", "-1", "Mi", "1.2.3", "0x10", "") {
		ours := quantity.MatchString(q)
		if _, err := resource.ParseQuantity(q); ours && err != nil {
			t.Errorf("%q: Render accepts it, the API does not: %v", q, err)
		}
		if !ours && slices.Contains(common, q) {
			t.Errorf("%q: Render rejects a common quantity", q)
		}
	}
}

// kubectl kustomize reads the golden files as resources: the structure an
// administrator's overlay would build on (offline, no API server).
func TestKustomize(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	dir := t.TempDir()
	var list []string
	for name := range cases() {
		b, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name+".yaml"), b, 0o644)
		list = append(list, "  - "+name+".yaml")
	}
	slices.Sort(list)
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources:\n"+strings.Join(list, "\n")+"\ncommonLabels:\n  team: mail\n"), 0o644)
	out, err := exec.Command(kubectl, "kustomize", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	for _, want := range []string{"name: mailhaul-night", "name: cutover", "completionMode: Indexed", "team: mail"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("kustomize output lacks %q:\n%s", want, out)
		}
	}
}
