{{/*
Names and labels shared by every template.
*/}}

{{/* The chart name, unless nameOverride replaces it. */}}
{{- define "miner-detector.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of the release's objects: fullnameOverride, else the release name when
it already contains the chart name, else "<release>-<chart>". Kubernetes names
stop at 63 characters.
*/}}
{{- define "miner-detector.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "miner-detector.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "miner-detector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The labels that select the detector's pods; they never change on upgrade. */}}
{{- define "miner-detector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "miner-detector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The labels every object carries. */}}
{{- define "miner-detector.labels" -}}
{{ include "miner-detector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "miner-detector.chart" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The ServiceAccount the detector runs as. */}}
{{- define "miner-detector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "miner-detector.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* The container image reference. */}}
{{- define "miner-detector.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
"true" when leader election is on: always with more than one replica (two
detectors acting on the same finding would post and delete twice), or when
asked for.
*/}}
{{- define "miner-detector.leaderElection" -}}
{{- if or (gt (int .Values.replicaCount) 1) .Values.leaderElection.enabled -}}
true
{{- end -}}
{{- end -}}

{{/*
The detector's config.yaml: values.config, plus what the chart owns (state
ConfigMap, leader election, watched namespaces).
*/}}
{{- define "miner-detector.config" -}}
{{- $fullname := include "miner-detector.fullname" . -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $_ := set $cfg "state" (dict "configMap" (printf "%s-state" $fullname)) -}}
{{- if include "miner-detector.leaderElection" . -}}
{{- $le := dict "enabled" true "leaseName" $fullname "leaseDuration" .Values.leaderElection.leaseDuration "renewDeadline" .Values.leaderElection.renewDeadline "retryPeriod" .Values.leaderElection.retryPeriod -}}
{{- $_ := set $cfg "leaderElection" $le -}}
{{- end -}}
{{- if .Values.watchNamespaces -}}
{{- $query := deepCopy (get $cfg "query" | default dict) -}}
{{- $_ := set $query "namespaces" .Values.watchNamespaces -}}
{{- $_ := set $cfg "query" $query -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* "true" when the detector reads Alertmanager silences. */}}
{{- define "miner-detector.alertmanager" -}}
{{- $am := dig "actions" "alertmanagerSilences" "suppressEnforcement" false (.Values.config | default dict) -}}
{{- if or $am .Values.networkPolicy.egress.alertmanager.enabled -}}
true
{{- end -}}
{{- end -}}

{{/*
A NetworkPolicy peer list from a values block with namespaceSelector and
podSelector; empty when both are empty (any peer).
*/}}
{{- define "miner-detector.peer" -}}
{{- $peer := dict -}}
{{- with .namespaceSelector }}{{ $_ := set $peer "namespaceSelector" . }}{{ end -}}
{{- with .podSelector }}{{ $_ := set $peer "podSelector" . }}{{ end -}}
{{- if $peer -}}
{{- toYaml (list $peer) -}}
{{- end -}}
{{- end -}}
