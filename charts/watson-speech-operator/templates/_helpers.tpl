{{/* The chart name. */}}
{{- define "wso.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name. */}}
{{- define "wso.fullname" -}}
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

{{- define "wso.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wso.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wso.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "wso.labels" -}}
helm.sh/chart: {{ include "wso.chart" . }}
{{ include "wso.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "wso.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wso.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The rules the reconcilers need, cluster-wide or per watched namespace. Least privilege: the four
kinds (no create or delete: users own them), their status and finalizers, Events, and read-only
ConfigMaps and Secrets (model inputs and credentials). No wildcard.
*/}}
{{- define "wso.rules" -}}
- apiGroups: ["speech.watson.dev"]
  resources: ["speechservices", "customlanguagemodels", "customacousticmodels", "customvoicemodels"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["speech.watson.dev"]
  resources: ["speechservices/status", "customlanguagemodels/status", "customacousticmodels/status", "customvoicemodels/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["speech.watson.dev"]
  resources: ["speechservices/finalizers", "customlanguagemodels/finalizers", "customacousticmodels/finalizers", "customvoicemodels/finalizers"]
  verbs: ["update", "patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
# Secrets: patched only to add and remove the in-use finalizer on a SpeechService's credentials
# while models use it (speech.watson.dev/in-use); never created, updated or deleted.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["patch"]
# ConfigMaps: read for inputs. Written for spec.export only by the namespaced rule below
# (wso.configMapWrites), never cluster-wide.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* ConfigMap writes for spec.export (rbac.exportConfigMaps): in a Role only, where models are. */}}
{{- define "wso.configMapWrites" -}}
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "update", "delete"]
{{- end }}

{{/*
"true" when the pod must leave runAsUser/runAsGroup (and fsGroup) to the platform: OpenShift's
restricted-v2 SCC assigns them from the namespace's range and refuses a pinned UID outside it.
openshift: auto detects the security.openshift.io/v1 API (helm install/upgrade; helm template sees
no cluster unless given --api-versions), true and false force it. Empty otherwise.
*/}}
{{- define "watson-speech-operator.openshift" -}}
{{- $o := toString .Values.openshift -}}
{{- if or (eq $o "true") (and (eq $o "auto") (.Capabilities.APIVersions.Has "security.openshift.io/v1/SecurityContextConstraints")) -}}
true
{{- end -}}
{{- end }}
