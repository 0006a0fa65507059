# PostgreSQL 15 on RDS: encrypted, in the database subnets, never public,
# TLS required by the parameter group (the app connects with
# sslmode=verify-full against the RDS CA bundle baked into its image).
# RDS keeps the master password in Secrets Manager and rotates it; ECS
# injects it into the app container as a secret.

resource "aws_db_parameter_group" "main" {
  name_prefix = "${local.name}-pg15-"
  family      = "postgres15"
  description = "iotd: TLS only, slow query logging"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "main" {
  identifier     = local.name
  engine         = "postgres"
  engine_version = "15"
  instance_class = var.db_instance_class

  db_name  = "iotd"
  username = "iotd"
  port     = 5432

  manage_master_user_password = true

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true

  db_subnet_group_name   = local.base.database_subnet_group_name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false
  multi_az               = var.db_multi_az
  parameter_group_name   = aws_db_parameter_group.main.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  backup_retention_period  = var.db_backup_retention_days
  backup_window            = "02:00-03:00"
  maintenance_window       = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot    = true
  delete_automated_backups = false

  deletion_protection       = var.db_deletion_protection
  skip_final_snapshot       = !var.db_deletion_protection
  final_snapshot_identifier = "${local.name}-final"

  auto_minor_version_upgrade   = true
  apply_immediately            = false
  performance_insights_enabled = true

  enabled_cloudwatch_logs_exports = ["postgresql"]
}

# RDS rotates the managed master password (every 7 days by default). Open
# connections survive a rotation but new ones need the new value, which ECS
# reads only when a task starts, so each successful rotation rolls the
# service: EventBridge -> a one-step Step Functions state machine ->
# ecs:UpdateService(forceNewDeployment).

resource "aws_cloudwatch_event_rule" "db_secret_rotated" {
  name        = "${local.name}-db-secret-rotated"
  description = "The RDS master password was rotated; restart the tasks to pick it up."

  event_pattern = jsonencode({
    source        = ["aws.secretsmanager"]
    "detail-type" = ["AWS Service Event via CloudTrail"]
    detail = {
      eventName = ["RotationSucceeded"]
      additionalEventData = {
        SecretId = [aws_db_instance.main.master_user_secret[0].secret_arn]
      }
    }
  })
}

resource "aws_sfn_state_machine" "roll_service" {
  name     = "${local.name}-roll-service"
  role_arn = aws_iam_role.roll_service.arn

  definition = jsonencode({
    Comment = "Start a new deployment of the iotd service so tasks read fresh secrets."
    StartAt = "ForceNewDeployment"
    States = {
      ForceNewDeployment = {
        Type     = "Task"
        Resource = "arn:aws:states:::aws-sdk:ecs:updateService"
        Parameters = {
          Cluster            = local.base.cluster_name
          Service            = aws_ecs_service.main.name
          ForceNewDeployment = true
        }
        End = true
      }
    }
  })
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "roll_service" {
  name               = "${local.name}-roll-service"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
}

data "aws_iam_policy_document" "roll_service" {
  statement {
    actions   = ["ecs:UpdateService"]
    resources = [aws_ecs_service.main.id]
  }
}

resource "aws_iam_role_policy" "roll_service" {
  name   = "update-service"
  role   = aws_iam_role.roll_service.id
  policy = data.aws_iam_policy_document.roll_service.json
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rotation_events" {
  name               = "${local.name}-rotation-events"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
}

data "aws_iam_policy_document" "rotation_events" {
  statement {
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.roll_service.arn]
  }
}

resource "aws_iam_role_policy" "rotation_events" {
  name   = "start-roll"
  role   = aws_iam_role.rotation_events.id
  policy = data.aws_iam_policy_document.rotation_events.json
}

resource "aws_cloudwatch_event_target" "db_secret_rotated" {
  rule     = aws_cloudwatch_event_rule.db_secret_rotated.name
  arn      = aws_sfn_state_machine.roll_service.arn
  role_arn = aws_iam_role.rotation_events.arn
}
