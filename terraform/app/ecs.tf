# The task: nginx (port 8080, the only one the ALB sees) in front of iotd's
# FastCGI pool on 127.0.0.1:9000 (pages, kept connections) and 127.0.0.1:9001
# (/admin and writes, its own workers); both share the task's network namespace
# (awsvpc). nginx starts once app reports HEALTHY (`iotd healthcheck` sends
# a FastCGI request for /healthz). stopTimeout gives the pool its
# IOTD_GRACE_SECONDS to finish in-flight requests, plus margin.
#
# Containers are plain HCL objects so tests/infra/policy.js can read them.

locals {
  stop_timeout_seconds   = 30
  grace_seconds          = 20
  fastcgi_address        = "127.0.0.1:9000"
  fastcgi_admin_address  = "127.0.0.1:9001"
  db_secret_arn          = aws_db_instance.main.master_user_secret[0].secret_arn
  rds_ca_bundle_in_image = "/usr/local/share/iotd/rds-global-bundle.pem"

  app_environment = [
    { name = "IOTD_LISTEN", value = local.fastcgi_address },
    { name = "IOTD_WORKERS", value = tostring(var.app_workers) },
    { name = "IOTD_ADMIN_LISTEN", value = local.fastcgi_admin_address },
    { name = "IOTD_ADMIN_WORKERS", value = tostring(var.app_admin_workers) },
    { name = "IOTD_GRACE_SECONDS", value = tostring(local.grace_seconds) },
    { name = "IOTD_MAX_UPLOAD_MB", value = tostring(var.max_upload_mb) },
    { name = "IOTD_S3_BUCKET", value = aws_s3_bucket.images.id },
    { name = "IOTD_S3_PREFIX", value = var.s3_prefix },
    { name = "IOTD_PRESIGN_TTL", value = tostring(var.presign_ttl_seconds) },
    { name = "IOTD_TIMEZONE", value = var.timezone },
    { name = "IOTD_PAGE_MAX_AGE", value = tostring(var.page_max_age_seconds) },
    { name = "IOTD_SITE_URL", value = "https://${local.domain_name}" },
    { name = "IOTD_ADMIN_USER", value = var.admin_user },
    { name = "AWS_REGION", value = var.aws_region },
    { name = "PGHOST", value = aws_db_instance.main.address },
    { name = "PGPORT", value = tostring(aws_db_instance.main.port) },
    { name = "PGDATABASE", value = aws_db_instance.main.db_name },
    { name = "PGSSLMODE", value = "verify-full" },
    { name = "PGSSLROOTCERT", value = local.rds_ca_bundle_in_image },
  ]

  # Values ECS reads from Secrets Manager when a task starts; never plain
  # environment. The RDS-managed secret is JSON {"username","password"}.
  app_secrets = [
    { name = "PGUSER", valueFrom = "${local.db_secret_arn}:username::" },
    { name = "PGPASSWORD", valueFrom = "${local.db_secret_arn}:password::" },
    { name = "IOTD_ADMIN_PASSWORD", valueFrom = aws_secretsmanager_secret.admin_password.arn },
  ]

  app_container = {
    name         = "app"
    image        = local.app_image
    essential    = true
    command      = ["serve"]
    stopTimeout  = local.stop_timeout_seconds
    environment  = local.app_environment
    secrets      = local.app_secrets
    portMappings = []
    healthCheck = {
      command     = ["CMD", "iotd", "healthcheck"]
      interval    = 10
      timeout     = 3
      retries     = 3
      startPeriod = 15
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.app.name
        awslogs-region        = var.aws_region
        awslogs-stream-prefix = "app"
      }
    }
  }

  nginx_container = {
    name        = "nginx"
    image       = local.nginx_image
    essential   = true
    stopTimeout = local.stop_timeout_seconds
    environment = [
      { name = "NGINX_PORT", value = "8080" },
      { name = "IOTD_FASTCGI", value = local.fastcgi_address },
      { name = "IOTD_FASTCGI_ADMIN", value = local.fastcgi_admin_address },
      { name = "IOTD_MAX_UPLOAD_MB", value = tostring(var.max_upload_mb) },
    ]
    portMappings = [
      { containerPort = 8080, protocol = "tcp" },
    ]
    dependsOn = [
      { containerName = "app", condition = "HEALTHY" },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.nginx.name
        awslogs-region        = var.aws_region
        awslogs-stream-prefix = "nginx"
      }
    }
  }

  # `iotd migrate` as a one-off task (run by the deploy workflow before the
  # service moves to a new image): the app container with another command.
  migrate_container = merge(
    { for key, value in local.app_container : key => value if key != "healthCheck" },
    { command = ["migrate"] },
  )
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/ecs/${local.name}/app"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "nginx" {
  name              = "/ecs/${local.name}/nginx"
  retention_in_days = var.log_retention_days
}

resource "aws_ecs_task_definition" "main" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.app_container, local.nginx_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

resource "aws_ecs_task_definition" "migrate" {
  family                   = "${local.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.migrate_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

resource "aws_ecs_service" "main" {
  name                              = local.name
  cluster                           = local.base.cluster_arn
  task_definition                   = aws_ecs_task_definition.main.arn
  desired_count                     = var.min_tasks
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 30
  enable_execute_command            = false
  propagate_tags                    = "SERVICE"
  wait_for_steady_state             = true

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  # A deployment whose tasks keep failing stops and returns to the last
  # revision that worked.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = local.base.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.nginx.arn
    container_name   = "nginx"
    container_port   = 8080
  }

  # Autoscaling owns the count after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

# --- autoscaling on requests per task ----------------------------------

resource "aws_appautoscaling_target" "service" {
  service_namespace  = "ecs"
  resource_id        = "service/${local.base.cluster_name}/${aws_ecs_service.main.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
}

resource "aws_appautoscaling_policy" "requests_per_task" {
  name               = "${local.name}-requests-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service.service_namespace
  resource_id        = aws_appautoscaling_target.service.resource_id
  scalable_dimension = aws_appautoscaling_target.service.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_task_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.main.arn_suffix}/${aws_lb_target_group.nginx.arn_suffix}"
    }
  }
}
