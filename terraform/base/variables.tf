variable "environment" {
  description = "Environment name; must equal the selected workspace (pre or pro)."
  type        = string

  validation {
    condition     = contains(["pre", "pro"], var.environment)
    error_message = "environment must be pre or pro."
  }
}

variable "aws_region" {
  description = "AWS region for everything but the CloudFront certificate."
  type        = string
}

variable "domain_name" {
  description = "DNS name of the site, e.g. iotd.example.com; a Route53 zone is created for it."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; /16 recommended (subnets are /24s carved from it)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per AZ (true, survives an AZ outage) or a single shared one (false, cheaper)."
  type        = bool
  default     = false
}

variable "ecr_keep_images" {
  description = "How many images each ECR repository keeps (older ones expire; rollbacks need them)."
  type        = number
  default     = 30
}
