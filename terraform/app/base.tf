# What this stack takes from the base stack, and the names used throughout.

data "terraform_remote_state" "base" {
  backend   = "s3"
  workspace = terraform.workspace

  config = {
    bucket               = var.state_bucket
    key                  = "base/terraform.tfstate"
    region               = var.aws_region
    workspace_key_prefix = "iotd"
  }
}

data "aws_caller_identity" "current" {}

locals {
  name        = "iotd-${var.environment}"
  base        = data.terraform_remote_state.base.outputs
  domain_name = local.base.domain_name
  origin_name = "origin.${local.base.domain_name}"
  account_id  = data.aws_caller_identity.current.account_id

  app_image   = "${local.base.ecr_repository_urls["app"]}:${var.image_tag}"
  nginx_image = "${local.base.ecr_repository_urls["nginx"]}:${var.image_tag}"

  tags = {
    Project     = "iotd"
    Environment = var.environment
    ManagedBy   = "terraform"
  }
}

# Refuse to apply pro.tfvars to the pre workspace (or the reverse).
resource "terraform_data" "workspace_guard" {
  lifecycle {
    precondition {
      condition     = terraform.workspace == var.environment
      error_message = "Select the workspace that matches the variable file: terraform workspace select ${var.environment}."
    }
  }
}
