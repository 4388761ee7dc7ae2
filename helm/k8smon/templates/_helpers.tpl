{{- define "k8smon.labels" -}}
app.kubernetes.io/name: k8smon
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: k8smon
{{- end }}

{{- define "k8smon.selectorLabels" -}}
app.kubernetes.io/name: k8smon
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
