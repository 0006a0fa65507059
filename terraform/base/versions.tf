# Base stack: the long-lived pieces one environment is built on (network,
# DNS, certificates, the ECS cluster, image repositories). Changes rarely;
# the app stack reads its outputs through terraform_remote_state.

terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # Partial configuration: bucket and region come from
  #   terraform init -backend-config=bucket=... -backend-config=region=...
  # State lives at s3://BUCKET/iotd/<workspace>/base/terraform.tfstate and is
  # locked with an S3 lock file (use_lockfile, Terraform >= 1.10).
  backend "s3" {
    key                  = "base/terraform.tfstate"
    workspace_key_prefix = "iotd"
    encrypt              = true
    use_lockfile         = true
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

# CloudFront only accepts ACM certificates from us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}
