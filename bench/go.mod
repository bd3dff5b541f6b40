module github.com/egress-go/egress/bench

go 1.26.8

require github.com/egress-go/egress v0.0.0

require golang.org/x/sys v0.49.0 // indirect

replace github.com/egress-go/egress => ../
