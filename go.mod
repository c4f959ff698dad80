module github.com/psabridge/psabridge

go 1.24
