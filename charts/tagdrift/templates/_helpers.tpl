{{/* The chart name, or nameOverride. */}}
{{- define "tagdrift.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: fullnameOverride, or release name + chart name (the release name alone when it contains the chart name). */}}
{{- define "tagdrift.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version for the helm.sh/chart label. */}}
{{- define "tagdrift.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The namespace of every resource. */}}
{{- define "tagdrift.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: name and instance only, so they never change on upgrade. */}}
{{- define "tagdrift.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tagdrift.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "tagdrift.labels" -}}
helm.sh/chart: {{ include "tagdrift.chart" . }}
{{ include "tagdrift.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tagdrift
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The labels the chart sets on every object; commonLabels and the per-object labels may not repeat them. */}}
{{- define "tagdrift.standardLabelKeys" -}}
{{- list "helm.sh/chart" "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/version" "app.kubernetes.io/managed-by" "app.kubernetes.io/part-of" | toJson }}
{{- end }}

{{/*
Refuses extra labels that repeat a key the object already gets: the labels are written as YAML text, so a
repeated key is a duplicate mapping key, which some parsers refuse and others resolve silently (overriding a
selector label would orphan the pod). Takes (list $ "values.path" $labels $taken...).
*/}}
{{- define "tagdrift.refuseLabelOverrides" -}}
{{- $ctx := index . 0 }}
{{- $where := index . 1 }}
{{- $taken := concat (include "tagdrift.standardLabelKeys" $ctx | fromJsonArray) (slice . 3) }}
{{- range $key, $_ := index . 2 }}
{{- if has $key $taken }}
{{- fail (printf "%s.%s repeats a label the chart already sets on that object (the standard labels, commonLabels, or the RRSA injection label): remove it from %s" $where $key $where) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The ServiceAccount the pod runs as. */}}
{{- define "tagdrift.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tagdrift.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The ConfigMap holding the desired state. */}}
{{- define "tagdrift.configMapName" -}}
{{- default (include "tagdrift.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{/*
What `--config` names: the mounted directory when the desired state is in several parts (`desiredStateFiles`,
or `configDirectory` for an existing ConfigMap), else the one file in it.
*/}}
{{- define "tagdrift.configPath" -}}
{{- if or .Values.desiredStateFiles .Values.configDirectory }}
{{- .Values.configMountPath }}
{{- else }}
{{- printf "%s/%s" .Values.configMountPath .Values.configKey }}
{{- end }}
{{- end }}

{{/*
The desired state as YAML text. `desiredState` is a mapping in a values file, or a string when passed with
`--set-file desiredState=FILE`; a string is kept byte for byte (comments included).
*/}}
{{- define "tagdrift.desiredStateYaml" -}}
{{- if .Values.reconcile.mode }}
{{- $desired := .Values.desiredState }}
{{- if kindIs "string" $desired }}
{{- $desired = fromYaml $desired }}
{{- else }}
{{- $desired = deepCopy $desired }}
{{- end }}
{{- if not $desired }}
{{- /* Only parts in desiredStateFiles: the reconcile section is a part of its own, which needs a version. */}}
{{- $_ := set $desired "version" 1 }}
{{- end }}
{{- $_ := set $desired "reconcile" (include "tagdrift.reconcile" . | fromYaml) }}
{{- toYaml $desired }}
{{- else if kindIs "string" .Values.desiredState }}
{{- .Values.desiredState }}
{{- else }}
{{- toYaml .Values.desiredState }}
{{- end }}
{{- end }}

{{/* The desired state's `reconcile` section from `.Values.reconcile` (the chart's camelCase to the file's snake_case). */}}
{{- define "tagdrift.reconcile" -}}
mode: {{ .Values.reconcile.mode }}
{{- with .Values.reconcile.match }}
match:
  {{- toYaml . | nindent 2 }}
{{- end }}
max_changes_per_check: {{ int .Values.reconcile.maxChangesPerCheck }}
min_consecutive_checks: {{ int .Values.reconcile.minConsecutiveChecks }}
{{- end }}

{{/* imagePullSecrets and global.imagePullSecrets (names or {name: ...} references), each name once. */}}
{{- define "tagdrift.imagePullSecrets" -}}
{{- $names := list }}
{{- $global := list }}
{{- with .Values.global }}
{{- $global = .imagePullSecrets | default list }}
{{- end }}
{{- range concat $global .Values.imagePullSecrets }}
{{- $name := . }}
{{- if kindIs "map" . }}
{{- $name = .name }}
{{- end }}
{{- $names = append $names $name }}
{{- end }}
{{- range uniq $names }}
- name: {{ . }}
{{- end }}
{{- end }}

{{/*
"true" when a monitoring.coreos.com/v1 object of kind (index . 1) is to be rendered under renderMode (index . 2):
always with alwaysRender, else only when the cluster serves the CRD; failIfMissing refuses to render without it.
*/}}
{{- define "tagdrift.renderMonitoring" -}}
{{- $ctx := index . 0 }}
{{- $kind := index . 1 }}
{{- $mode := index . 2 }}
{{- if or (eq $mode "alwaysRender") ($ctx.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" $kind)) }}
{{- "true" }}
{{- else if eq $mode "failIfMissing" }}
{{- fail (printf "the cluster has no monitoring.coreos.com/v1 %s (install the Prometheus Operator's CRDs first; with helm template, pass --api-versions monitoring.coreos.com/v1/%s)" $kind $kind) }}
{{- end }}
{{- end }}

{{/* repository:tag or repository@digest. */}}
{{- define "tagdrift.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Refuses value combinations that would deploy a pod that cannot work. Called from the Deployment, so
`helm template` and `helm install` stop with the message.
*/}}
{{- define "tagdrift.validate" -}}
{{- if and .Values.huaweiWorkloadIdentity.enabled (not .Values.huaweiWorkloadIdentity.audience) }}
{{- fail "huaweiWorkloadIdentity.audience is required when huaweiWorkloadIdentity.enabled is true (the client ID of the IAM identity provider)" }}
{{- end }}
{{- if and .Values.huaweiWorkloadIdentity.enabled (not .Values.huaweiWorkloadIdentity.idpId) }}
{{- fail "huaweiWorkloadIdentity.idpId is required when huaweiWorkloadIdentity.enabled is true" }}
{{- end }}
{{- if and .Values.alibabaRrsa.enabled (eq .Values.alibabaRrsa.mode "manual") (or (not .Values.alibabaRrsa.roleArn) (not .Values.alibabaRrsa.oidcProviderArn)) }}
{{- fail "alibabaRrsa.roleArn and alibabaRrsa.oidcProviderArn are required when alibabaRrsa.mode is manual" }}
{{- end }}
{{- if and .Values.alibabaRrsa.enabled (eq .Values.alibabaRrsa.mode "webhook") (not .Values.alibabaRrsa.roleName) }}
{{- fail "alibabaRrsa.roleName is required when alibabaRrsa.mode is webhook (the ServiceAccount annotation the ack-pod-identity-webhook reads)" }}
{{- end }}
{{- if and .Values.alibabaRrsa.enabled (eq .Values.alibabaRrsa.mode "webhook") (not .Values.serviceAccount.create) }}
{{- fail "alibabaRrsa.mode webhook needs serviceAccount.create: the role-name annotation goes on the chart's ServiceAccount (or annotate your own and use mode manual)" }}
{{- end }}
{{- $common := keys .Values.commonLabels }}
{{- include "tagdrift.refuseLabelOverrides" (list . "commonLabels" .Values.commonLabels) }}
{{- $podTaken := $common }}
{{- if and .Values.alibabaRrsa.enabled (eq .Values.alibabaRrsa.mode "webhook") .Values.alibabaRrsa.podInjectionLabel }}
{{- $podTaken = append $podTaken "pod-identity.alibabacloud.com/injection" }}
{{- end }}
{{- include "tagdrift.refuseLabelOverrides" (concat (list . "podLabels" .Values.podLabels) $podTaken) }}
{{- include "tagdrift.refuseLabelOverrides" (concat (list . "service.labels" .Values.service.labels) $common) }}
{{- include "tagdrift.refuseLabelOverrides" (concat (list . "serviceAccount.labels" .Values.serviceAccount.labels) $common) }}
{{- include "tagdrift.refuseLabelOverrides" (concat (list . "serviceMonitor.additionalLabels" .Values.serviceMonitor.additionalLabels) $common) }}
{{- include "tagdrift.refuseLabelOverrides" (concat (list . "prometheusRule.additionalLabels" .Values.prometheusRule.additionalLabels) $common) }}
{{- include "tagdrift.refuseLabelOverrides" (concat (list . "grafanaDashboard.labels" .Values.grafanaDashboard.labels) $common) }}
{{- with .Values.podDisruptionBudget }}
{{- if and .enabled (toString .minAvailable) (toString .maxUnavailable) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable, not both (Kubernetes refuses a budget with both)" }}
{{- end }}
{{- end }}
{{- if .Values.reconcile.mode }}
{{- if .Values.existingConfigMap }}
{{- fail "reconcile.mode cannot be rendered into existingConfigMap: put the reconcile section in that ConfigMap's desired state and leave reconcile.mode empty" }}
{{- end }}
{{- if and (eq .Values.reconcile.mode "apply") (not .Values.reconcile.match) }}
{{- fail "reconcile.match is required when reconcile.mode is apply: list the selectors of the resources tagdrift may write, e.g. [{account: ali-prod, type: secret}]" }}
{{- end }}
{{- end }}
{{- if not .Values.existingConfigMap }}
{{- $desired := .Values.desiredState }}
{{- if kindIs "string" $desired }}
{{- $desired = fromYaml $desired }}
{{- end }}
{{- if and .Values.reconcile.mode (hasKey $desired "reconcile") }}
{{- fail "both desiredState.reconcile and reconcile.mode are set: keep self-healing in one place (reconcile.mode empty, or no reconcile section in desiredState)" }}
{{- end }}
{{- /* An unset address is tagdrift's default (crates/tagdrift-core, DEFAULT_LISTEN_ADDRESS): the pod listens
there, so the probes and the Service must use its port too. */}}
{{- $address := "" }}
{{- $where := "desiredState" }}
{{- with $desired.daemon }}
{{- with .listen_address }}
{{- $address = toString . }}
{{- end }}
{{- end }}
{{- range $name, $part := .Values.desiredStateFiles }}
{{- if not (regexMatch "^[a-zA-Z0-9][-._a-zA-Z0-9]*\\.yaml$" $name) }}
{{- fail (printf "desiredStateFiles: %q is not a file name ending in .yaml (letters, digits, '.', '_', '-'): tagdrift reads only *.yaml files of the directory" $name) }}
{{- end }}
{{- if and (eq $name $.Values.configKey) (or $.Values.desiredState $.Values.reconcile.mode) }}
{{- fail (printf "desiredStateFiles: %q is configKey, where desiredState goes: rename the part or configKey" $name) }}
{{- end }}
{{- if kindIs "string" $part }}
{{- $part = fromYaml $part }}
{{- end }}
{{- if and $.Values.reconcile.mode (hasKey $part "reconcile") }}
{{- fail (printf "both desiredStateFiles.%s has a reconcile section and reconcile.mode is set: keep self-healing in one place" $name) }}
{{- end }}
{{- with $part.daemon }}
{{- with .listen_address }}
{{- $address = toString . }}
{{- $where = printf "desiredStateFiles.%s" $name }}
{{- end }}
{{- end }}
{{- end }}
{{- $port := regexFind "[0-9]+$" (default "0.0.0.0:9898" $address) }}
{{- if ne $port (toString .Values.containerPort) }}
{{- $what := printf "%s.daemon.listen_address %q listens on port %s" $where $address $port }}
{{- if not $address }}
{{- $what = "desiredState.daemon.listen_address is unset, so tagdrift listens on its default 0.0.0.0:9898," }}
{{- end }}
{{- fail (printf "%s but containerPort is %v: set them to the same port" $what .Values.containerPort) }}
{{- end }}
{{- end }}
{{- end }}
