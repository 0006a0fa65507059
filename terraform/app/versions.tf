# App stack: what runs the site in one environment (bucket, roles, security
# groups, database, load balancer, CloudFront, logs, task, service, alarms,
# dashboard, DNS record). Deployed on every merge to main.

terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # Partial configuration: bucket and region come from
  #   terraform init -backend-config=bucket=... -backend-config=region=...
  # State lives at s3://BUCKET/iotd/<workspace>/app/terraform.tfstate and is
  # locked with an S3 lock file (use_lockfile, Terraform >= 1.10).
  backend "s3" {
    key                  = "app/terraform.tfstate"
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
