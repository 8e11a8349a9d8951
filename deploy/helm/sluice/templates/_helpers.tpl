{{- define "sluice.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The configuration file: the values' config, with the metrics address, the
shutdown timeout and (StatefulSet) the static-membership id filled in unless set. */}}
{{- define "sluice.config" -}}
{{- if .Values.configText -}}
{{- .Values.configText -}}
{{- else -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $metrics := default dict $cfg.metrics -}}
{{- if not $metrics.listen -}}
{{- $_ := set $metrics "listen" (printf ":%d" (int .Values.metricsPort)) -}}
{{- end -}}
{{- $_ := set $cfg "metrics" $metrics -}}
{{- if not (hasKey $cfg "shutdown_timeout") -}}
{{- $_ := set $cfg "shutdown_timeout" (printf "%ds" (int .Values.shutdownTimeoutSeconds)) -}}
{{- end -}}
{{- if and (eq .Values.kind "StatefulSet") .Values.staticMembership -}}
{{- $kafka := default dict $cfg.kafka -}}
{{- if not $kafka.instance_id -}}
{{- $_ := set $kafka "instance_id" "${POD_NAME}" -}}
{{- end -}}
{{- $_ := set $cfg "kafka" $kafka -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
{{- end -}}
