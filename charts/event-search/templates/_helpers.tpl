{{/*
Names, labels and the pieces every pod of the chart shares.
*/}}

{{- define "event-search.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "event-search.fullname" -}}
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

{{/* A component's object name: <fullname>-<component>, within 63 characters (52 for CronJobs). */}}
{{- define "event-search.componentName" -}}
{{- $root := index . 0 }}{{- $component := index . 1 }}
{{- printf "%s-%s" (include "event-search.fullname" $root | trunc (int (sub 62 (len $component)))) $component | trimSuffix "-" }}
{{- end }}

{{- define "event-search.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "event-search.selectorLabels" -}}
app.kubernetes.io/name: {{ include "event-search.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "event-search.labels" -}}
helm.sh/chart: {{ include "event-search.chart" . }}
{{ include "event-search.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: event-search
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of a component: (list $ "api") */}}
{{- define "event-search.componentLabels" -}}
{{ include "event-search.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "event-search.componentSelectorLabels" -}}
{{ include "event-search.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "event-search.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "event-search.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "event-search.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret the chart creates for credentials and the CA, when it creates one. */}}
{{- define "event-search.esSecretName" -}}
{{- include "event-search.componentName" (list . "es") }}
{{- end }}

{{- define "event-search.createEsSecret" -}}
{{- $es := .Values.elasticsearch }}
{{- if or $es.apiKey $es.username $es.password $es.caCert.pem }}true{{- end }}
{{- end }}

{{/* Where the CA file comes from: "" (none), or the name of the Secret that holds it. */}}
{{- define "event-search.caSecretName" -}}
{{- $ca := .Values.elasticsearch.caCert }}
{{- if $ca.existingSecret }}{{ $ca.existingSecret }}
{{- else if $ca.pem }}{{ include "event-search.esSecretName" . }}
{{- end }}
{{- end }}

{{- define "event-search.caKey" -}}
{{- if .Values.elasticsearch.caCert.existingSecret }}{{ .Values.elasticsearch.caCert.key }}{{ else }}ca.crt{{ end }}
{{- end }}

{{- define "event-search.caMountPath" -}}/etc/event-search/elasticsearch-ca{{- end }}

{{/*
Consistency checks the schema cannot express; they stop the render with a precise message.
*/}}
{{- define "event-search.validate" -}}
{{- $es := .Values.elasticsearch }}
{{- if and $es.existingSecret (or $es.apiKey $es.username $es.password) }}
{{- fail "elasticsearch: set either existingSecret or apiKey/username/password, not both" }}
{{- end }}
{{- if and (not $es.url) (not $es.existingSecret) }}
{{- fail "elasticsearch.url is empty and no elasticsearch.existingSecret holds it: set one" }}
{{- end }}
{{- if and $es.username (not $es.password) }}
{{- fail "elasticsearch.username is set without elasticsearch.password" }}
{{- end }}
{{- if and $es.caCert.pem $es.caCert.existingSecret }}
{{- fail "elasticsearch.caCert: set either pem or existingSecret, not both" }}
{{- end }}
{{- $api := .Values.api }}
{{- if le (int $api.terminationGracePeriodSeconds) (add $api.preStopSleepSeconds $api.shutdownTimeoutSeconds | int) }}
{{- fail (printf "api.terminationGracePeriodSeconds (%v) must exceed api.preStopSleepSeconds + api.shutdownTimeoutSeconds (%v)" $api.terminationGracePeriodSeconds (add $api.preStopSleepSeconds $api.shutdownTimeoutSeconds)) }}
{{- end }}
{{- $as := $api.autoscaling }}
{{- if and $as.enabled (gt (int $as.minReplicas) (int $as.maxReplicas)) }}
{{- fail (printf "api.autoscaling.minReplicas (%v) exceeds maxReplicas (%v)" $as.minReplicas $as.maxReplicas) }}
{{- end }}
{{- $pdb := $api.podDisruptionBudget }}
{{- if and $pdb.enabled (eq (toString $pdb.minAvailable) "") (eq (toString $pdb.maxUnavailable) "") }}
{{- fail "api.podDisruptionBudget: set minAvailable or maxUnavailable" }}
{{- end }}
{{- if and $pdb.enabled (ne (toString $pdb.minAvailable) "") (ne (toString $pdb.maxUnavailable) "") }}
{{- fail "api.podDisruptionBudget: set either minAvailable or maxUnavailable, the other to \"\"" }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.ingress.tls.enabled (not .Values.ingress.tls.secretName) }}
{{- fail "ingress.tls.secretName is required when ingress.tls.enabled" }}
{{- end }}
{{- if and .Values.otel.enabled (not .Values.otel.endpoint) }}
{{- fail "otel.endpoint is required when otel.enabled" }}
{{- end }}
{{- end }}

{{/*
Environment every process shares: Elasticsearch connection, logging, tracing.
(list $ "service-name" "name of the chart-created Secret to read")
*/}}
{{- define "event-search.commonEnv" -}}
{{- $root := index . 0 }}{{- $service := index . 1 }}{{- $chartSecret := index . 2 }}
{{- $es := $root.Values.elasticsearch -}}
- name: ELASTICSEARCH_URL
{{- if $es.url }}
  value: {{ $es.url | quote }}
{{- else }}
  valueFrom:
    secretKeyRef:
      name: {{ $es.existingSecret }}
      key: {{ $es.secretKeys.url }}
{{- end }}
- name: ES_INDEX_PREFIX
  value: {{ $es.indexPrefix | quote }}
{{- if $es.existingSecret }}
{{- range $env, $key := dict "ES_API_KEY" $es.secretKeys.apiKey "ES_USERNAME" $es.secretKeys.username "ES_PASSWORD" $es.secretKeys.password }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $es.existingSecret }}
      key: {{ $key }}
      optional: true
{{- end }}
{{- else }}
{{- range $env, $set := dict "ES_API_KEY" (list $es.apiKey "api-key") "ES_USERNAME" (list $es.username "username") "ES_PASSWORD" (list $es.password "password") }}
{{- if index $set 0 }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $chartSecret }}
      key: {{ index $set 1 }}
{{- end }}
{{- end }}
{{- end }}
{{- if include "event-search.caSecretName" $root }}
- name: ES_CA_FILE
  value: {{ printf "%s/%s" (include "event-search.caMountPath" $root) (include "event-search.caKey" $root) | quote }}
{{- end }}
- name: LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ $service | quote }}
{{- if $root.Values.otel.enabled }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $root.Values.otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $root.Values.otel.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $root.Values.otel.sampler | quote }}
{{- with $root.Values.otel.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- with $root.Values.otel.resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ . | quote }}
{{- end }}
{{- else }}
- name: OTEL_SDK_DISABLED
  value: "true"
{{- end }}
{{- end }}

{{/* NAME: value map to EnvVar list. */}}
{{- define "event-search.envMap" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/*
Volumes every pod has: a writable /tmp, the CA when there is one.
(list $ sizeLimit "name of the chart-created Secret to read")
*/}}
{{- define "event-search.volumes" -}}
{{- $root := index . 0 }}{{- $chartSecret := index . 2 -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ index . 1 }}
{{- if include "event-search.caSecretName" $root }}
- name: elasticsearch-ca
  secret:
    secretName: {{ $root.Values.elasticsearch.caCert.existingSecret | default $chartSecret }}
    items:
      - key: {{ include "event-search.caKey" $root }}
        path: {{ include "event-search.caKey" $root }}
{{- end }}
{{- end }}

{{- define "event-search.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "event-search.caSecretName" . }}
- name: elasticsearch-ca
  mountPath: {{ include "event-search.caMountPath" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* Pod-level settings every pod shares. */}}
{{- define "event-search.podCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{- define "event-search.esSecretData" -}}
{{- $es := .Values.elasticsearch }}
{{- with $es.apiKey }}
api-key: {{ . | b64enc | quote }}
{{- end }}
{{- with $es.username }}
username: {{ . | b64enc | quote }}
{{- end }}
{{- with $es.password }}
password: {{ . | b64enc | quote }}
{{- end }}
{{- with $es.caCert.pem }}
ca.crt: {{ . | b64enc | quote }}
{{- end }}
{{- end }}

{{/* Egress allowed when networkPolicy.egress.enabled: DNS, then the configured rules. */}}
{{- define "event-search.egressRules" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- with .Values.networkPolicy.egress.rules }}
{{ toYaml . }}
{{- end }}
{{- end }}
