// Package k8s renders a migration as a Kubernetes Indexed Job: N pods, each
// running `mailhaul migrate run PLAN --stage S --shard-count N` with its
// shard index in JOB_COMPLETION_INDEX, the plan and its secrets mounted
// read-only, and one shared volume (ReadWriteMany) for per-user state,
// leases and archives. Kubernetes is the coordinator: it retries each index
// on its own, stops retrying an index that exits with the permanent-error
// code, and ignores pods evicted by a disruption.
//
// The Job is built from the few types below, which mirror the fields of
// k8s.io/api/batch/v1 that mailhaul writes, and marshalled with
// sigs.k8s.io/yaml. Linking the real API types would add apimachinery, klog
// and their codecs (about 10 MB, half the binary again) for one printing
// command; the tests decode every rendered Job strictly into the real
// batchv1.Job, so a misspelt or misplaced field fails there instead.
package k8s

import (
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strconv"

	"sigs.k8s.io/yaml"

	"github.com/mailhaul/mailhaul/internal/cause"
)

// Where the pod sees the plan, the secrets and the shared volume. A plan
// run this way names its secrets under SecretsDir and its state and archive
// places under DataDir.
const (
	PlanDir    = "/etc/mailhaul/plan"
	SecretsDir = "/etc/mailhaul/secrets"
	DataDir    = "/var/lib/mailhaul"
)

// Options describe one Job. Name, Image, Shards, Stage, PlanConfigMap and
// DataClaim are required.
type Options struct {
	Name      string   // the Job's name; each pod's host name is Name-INDEX
	Namespace string   // optional
	Image     string   // an image with mailhaul on its PATH
	Command   []string // the entry point; ["mailhaul"] if empty

	Shards int      // completions = parallelism = the --shard-count
	Stage  string   // full, delta, export or import
	Args   []string // more arguments after the stage and shard count

	PlanConfigMap string // the ConfigMap holding the plan
	PlanKey       string // its key, the plan's file name; "plan.toml" if empty
	Secret        string // the Secret with passwords and tokens; optional
	DataClaim     string // the PersistentVolumeClaim for state and archives

	// PermanentExitCodes are the exit codes no retry changes: an index
	// that exits with one fails at once (FailIndex). Nil: the ones
	// mailhaul uses (cause.NotRetried: permanent, TLS, authentication,
	// usage).
	PermanentExitCodes   []int
	BackoffLimitPerIndex int  // retries of a failed index
	MaxFailedIndexes     *int // the Job fails once more indexes failed; nil: never early

	Requests, Limits map[string]string // e.g. "cpu": "500m", "memory": "512Mi"
}

// The stages `migrate run` knows.
var stages = []string{"full", "delta", "export", "import"}

// Render writes the Job for o as YAML to w, or names what is wrong with o.
func Render(w io.Writer, o Options) error {
	j, err := build(o)
	if err != nil {
		return err
	}
	b, err := yaml.Marshal(j)
	if err != nil {
		return fmt.Errorf("k8s: %w", err)
	}
	_, err = w.Write(b)
	return err
}

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// A Kubernetes quantity without a sign: a decimal number with an
	// optional binary (Ki…Ei), decimal (m, k, M…E) or exponent suffix.
	quantity = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$`)
	fileKey  = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

// check names every problem of o at once; the rules are the API server's
// for these fields, so a Job that renders is one the server accepts.
func (o Options) check() error {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if o.Shards < 1 {
		add("shards %d: at least 1", o.Shards)
	}
	// Pods are named NAME-INDEX and host names are DNS labels of 63 bytes.
	if longest := 63 - len("-"+strconv.Itoa(max(o.Shards-1, 0))); !dnsLabel.MatchString(o.Name) || len(o.Name) > longest {
		add("name %q: lower-case letters, digits and '-', at most %d characters with %d shards", o.Name, longest, o.Shards)
	}
	if o.Namespace != "" && (!dnsLabel.MatchString(o.Namespace) || len(o.Namespace) > 63) {
		add("namespace %q: not a DNS label", o.Namespace)
	}
	if o.Image == "" {
		add("no image")
	}
	if !slices.Contains(stages, o.Stage) {
		add("stage %q: one of %v", o.Stage, stages)
	}
	for what, name := range map[string]string{"plan ConfigMap": o.PlanConfigMap, "secret": o.Secret, "data claim": o.DataClaim} {
		if (name != "" || what != "secret") && (!dnsSubdomain.MatchString(name) || len(name) > 253) {
			add("%s %q: not a DNS subdomain name", what, name)
		}
	}
	if o.PlanKey != "" && (!fileKey.MatchString(o.PlanKey) || len(o.PlanKey) > 253) {
		add("plan key %q: letters, digits, '-', '_' and '.' only", o.PlanKey)
	}
	// onExitCodes with operator In may not list 0, exit codes are bytes,
	// and the API wants them in increasing order, each once.
	for i, c := range o.PermanentExitCodes {
		if c < 1 || c > 255 {
			add("permanent exit code %d: 1 to 255", c)
		}
		if i > 0 && c <= o.PermanentExitCodes[i-1] {
			add("permanent exit codes %v: in increasing order, each once", o.PermanentExitCodes)
		}
	}
	if o.BackoffLimitPerIndex < 0 {
		add("backoff limit per index %d: not negative", o.BackoffLimitPerIndex)
	}
	if m := o.MaxFailedIndexes; m != nil && (*m < 0 || *m > o.Shards) {
		add("max failed indexes %d: 0 to the shard count %d", *m, o.Shards)
	}
	for what, rs := range map[string]map[string]string{"request": o.Requests, "limit": o.Limits} {
		for k, v := range rs {
			if !slices.Contains([]string{"cpu", "memory", "ephemeral-storage"}, k) || !quantity.MatchString(v) {
				add("%s %s=%q: cpu, memory or ephemeral-storage, and a quantity such as 500m or 512Mi", what, k, v)
			}
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs) // the maps above are walked in random order
		return fmt.Errorf("k8s: %d problems: %v", len(errs), errs)
	}
	return nil
}

func build(o Options) (*job, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if len(o.Command) == 0 {
		o.Command = []string{"mailhaul"}
	}
	if o.PlanKey == "" {
		o.PlanKey = "plan.toml"
	}
	if o.PermanentExitCodes == nil {
		o.PermanentExitCodes = cause.NotRetried
	}
	var codes []int32
	for _, c := range o.PermanentExitCodes {
		codes = append(codes, int32(c))
	}
	n := int32(o.Shards)
	labels := map[string]string{
		"app.kubernetes.io/name":      "mailhaul",
		"app.kubernetes.io/component": "migrate",
		"app.kubernetes.io/instance":  o.Name,
		"mailhaul.io/stage":           o.Stage,
	}
	args := append([]string{"migrate", "run", path.Join(PlanDir, o.PlanKey), "--stage", o.Stage, "--shard-count", strconv.Itoa(o.Shards)}, o.Args...)
	c := container{
		Name: "migrate", Image: o.Image, Command: o.Command, Args: args,
		VolumeMounts: []volumeMount{
			{Name: "plan", MountPath: PlanDir, ReadOnly: true},
			{Name: "data", MountPath: DataDir},
		},
	}
	if len(o.Requests)+len(o.Limits) > 0 {
		c.Resources = &resources{Requests: o.Requests, Limits: o.Limits}
	}
	vols := []volume{
		{Name: "plan", ConfigMap: &configMapVolume{Name: o.PlanConfigMap}},
		{Name: "data", PersistentVolumeClaim: &claimVolume{ClaimName: o.DataClaim}},
	}
	if o.Secret != "" {
		c.VolumeMounts = append(c.VolumeMounts, volumeMount{Name: "secrets", MountPath: SecretsDir, ReadOnly: true})
		mode := int32(0o400)
		vols = append(vols, volume{Name: "secrets", Secret: &secretVolume{SecretName: o.Secret, DefaultMode: &mode}})
	}
	var maxFailed *int32
	if o.MaxFailedIndexes != nil {
		m := int32(*o.MaxFailedIndexes)
		maxFailed = &m
	}
	backoff := int32(o.BackoffLimitPerIndex)
	return &job{
		APIVersion: "batch/v1",
		Kind:       "Job",
		Metadata:   objectMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels},
		Spec: jobSpec{
			CompletionMode:       "Indexed",
			Completions:          &n,
			Parallelism:          &n,
			BackoffLimitPerIndex: &backoff,
			MaxFailedIndexes:     maxFailed,
			PodReplacementPolicy: "Failed", // a failed pod ends before its index starts again
			PodFailurePolicy: &podFailurePolicy{Rules: []podFailureRule{
				{Action: "FailIndex", OnExitCodes: &onExitCodes{ContainerName: "migrate", Operator: "In", Values: codes}},
				{Action: "Ignore", OnPodConditions: []onPodCondition{{Type: "DisruptionTarget", Status: "True"}}},
			}},
			Template: podTemplate{
				Metadata: objectMeta{Labels: labels},
				Spec:     podSpec{RestartPolicy: "Never", Containers: []container{c}, Volumes: vols},
			},
		},
	}, nil
}

// The subset of batch/v1 Job that Render writes; field names and JSON
// names as in k8s.io/api.
type (
	job struct {
		APIVersion string     `json:"apiVersion"`
		Kind       string     `json:"kind"`
		Metadata   objectMeta `json:"metadata"`
		Spec       jobSpec    `json:"spec"`
	}
	objectMeta struct {
		Name      string            `json:"name,omitempty"`
		Namespace string            `json:"namespace,omitempty"`
		Labels    map[string]string `json:"labels,omitempty"`
	}
	jobSpec struct {
		CompletionMode       string            `json:"completionMode"`
		Completions          *int32            `json:"completions"`
		Parallelism          *int32            `json:"parallelism"`
		BackoffLimitPerIndex *int32            `json:"backoffLimitPerIndex"`
		MaxFailedIndexes     *int32            `json:"maxFailedIndexes,omitempty"`
		PodReplacementPolicy string            `json:"podReplacementPolicy"`
		PodFailurePolicy     *podFailurePolicy `json:"podFailurePolicy"`
		Template             podTemplate       `json:"template"`
	}
	podFailurePolicy struct {
		Rules []podFailureRule `json:"rules"`
	}
	podFailureRule struct {
		Action          string           `json:"action"`
		OnExitCodes     *onExitCodes     `json:"onExitCodes,omitempty"`
		OnPodConditions []onPodCondition `json:"onPodConditions,omitempty"`
	}
	onExitCodes struct {
		ContainerName string  `json:"containerName,omitempty"`
		Operator      string  `json:"operator"`
		Values        []int32 `json:"values"`
	}
	onPodCondition struct {
		Type   string `json:"type"`
		Status string `json:"status"`
	}
	podTemplate struct {
		Metadata objectMeta `json:"metadata"`
		Spec     podSpec    `json:"spec"`
	}
	podSpec struct {
		RestartPolicy string      `json:"restartPolicy"`
		Containers    []container `json:"containers"`
		Volumes       []volume    `json:"volumes"`
	}
	container struct {
		Name         string        `json:"name"`
		Image        string        `json:"image"`
		Command      []string      `json:"command,omitempty"`
		Args         []string      `json:"args,omitempty"`
		Resources    *resources    `json:"resources,omitempty"`
		VolumeMounts []volumeMount `json:"volumeMounts"`
	}
	resources struct {
		Requests map[string]string `json:"requests,omitempty"`
		Limits   map[string]string `json:"limits,omitempty"`
	}
	volumeMount struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
		ReadOnly  bool   `json:"readOnly,omitempty"`
	}
	volume struct {
		Name                  string           `json:"name"`
		ConfigMap             *configMapVolume `json:"configMap,omitempty"`
		Secret                *secretVolume    `json:"secret,omitempty"`
		PersistentVolumeClaim *claimVolume     `json:"persistentVolumeClaim,omitempty"`
	}
	configMapVolume struct {
		Name string `json:"name"`
	}
	secretVolume struct {
		SecretName  string `json:"secretName"`
		DefaultMode *int32 `json:"defaultMode,omitempty"`
	}
	claimVolume struct {
		ClaimName string `json:"claimName"`
	}
)
