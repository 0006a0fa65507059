# Bootstrap: applied once, by hand, with an administrator's credentials and
# local state (it creates the bucket the other stacks keep their state in).
# Creates the state bucket, GitHub's OIDC provider and the roles the
# workflows assume. See docs/deploy.md, "First deploy".

terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project   = "iotd"
      ManagedBy = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  repo_sub   = "repo:${var.github_repository}"
}

# --- state bucket ------------------------------------------------------

resource "aws_s3_bucket" "state" {
  bucket = var.state_bucket
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

data "aws_iam_policy_document" "state_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state_bucket.json
}

# --- GitHub OIDC -------------------------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  # AWS no longer checks this thumbprint for GitHub (it trusts the IdP's CA),
  # but the API still requires one.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}

data "aws_iam_policy_document" "github_assume" {
  for_each = {
    plan       = ["${local.repo_sub}:pull_request"]
    build      = ["${local.repo_sub}:ref:refs/heads/main"]
    deploy-pre = ["${local.repo_sub}:environment:pre"]
    deploy-pro = ["${local.repo_sub}:environment:pro"]
  }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "github" {
  for_each = data.aws_iam_policy_document.github_assume

  name                 = "iotd-github-${each.key}"
  description          = "Assumed by GitHub Actions (${each.key}) in ${var.github_repository} through OIDC."
  assume_role_policy   = each.value.json
  max_session_duration = 3600
}

# plan: read everything, write only state lock files. Refreshing the admin
# password's secret version reads its value, so that one secret is readable.
resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.github["plan"].name
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}

data "aws_iam_policy_document" "plan_state_lock" {
  statement {
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.state.arn}/iotd/*.tflock"]
  }

  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:${var.aws_region}:${local.account_id}:secret:iotd-*-admin-password-*"]
  }
}

resource "aws_iam_role_policy" "plan_state_lock" {
  name   = "state-lock-and-refresh"
  role   = aws_iam_role.github["plan"].id
  policy = data.aws_iam_policy_document.plan_state_lock.json
}

# build: push images to the environments' repositories, nothing else.
data "aws_iam_policy_document" "build_push" {
  statement {
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = ["arn:aws:ecr:${var.aws_region}:${local.account_id}:repository/iotd-*"]
  }
}

resource "aws_iam_role_policy" "build_push" {
  name   = "ecr-push"
  role   = aws_iam_role.github["build"].id
  policy = data.aws_iam_policy_document.build_push.json
}

# deploy-*: terraform apply creates IAM roles, VPCs, databases... so these
# roles are broad; what limits them is the trust policy (only jobs running
# in the matching GitHub environment, which for pro requires a reviewer).
resource "aws_iam_role_policy_attachment" "deploy_admin" {
  for_each = toset(["deploy-pre", "deploy-pro"])

  role       = aws_iam_role.github[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
