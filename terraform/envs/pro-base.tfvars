# pro, base stack: a NAT gateway per AZ so losing one AZ keeps egress.
environment        = "pro"
aws_region         = "eu-west-1"
domain_name        = "iotd.example.com"
vpc_cidr           = "10.41.0.0/16"
nat_gateway_per_az = true
