# pre, base stack.
environment        = "pre"
aws_region         = "eu-west-1"
domain_name        = "pre.iotd.example.com"
vpc_cidr           = "10.40.0.0/16"
nat_gateway_per_az = false
