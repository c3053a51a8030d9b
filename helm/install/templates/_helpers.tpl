{{/* Labels on every object of the chart. */}}
{{- define "pgo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{ include "pgo.selectorLabels" . }}
{{- end }}

{{/* The labels that select the operator's Pods; the same as the kustomize
install's, so that either install finds the other's Pods by them. */}}
{{- define "pgo.selectorLabels" -}}
postgres-operator.crunchydata.com/control-plane: postgres-operator
app.kubernetes.io/name: pgo
app.kubernetes.io/version: "5"
{{- end }}

{{- define "pgo.roleKind" -}}
{{- if .Values.singleNamespace }}Role{{ else }}ClusterRole{{ end }}
{{- end }}

{{- define "pgo.roleBindingKind" -}}
{{- if .Values.singleNamespace }}RoleBinding{{ else }}ClusterRoleBinding{{ end }}
{{- end }}

{{- define "pgo.imagePullSecrets" -}}
{{- if .Values.imagePullSecrets }}
imagePullSecrets:
{{ toYaml .Values.imagePullSecrets }}
{{- else if .Values.imagePullSecretNames }}
imagePullSecrets:
{{- range .Values.imagePullSecretNames }}
- name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
