"""wandb.env: the names of wandb's environment variables, which runlake reads as fallbacks
of its own RUNLAKE_* ones."""

import os

MODE = "WANDB_MODE"
DIR = "WANDB_DIR"
PROJECT = "WANDB_PROJECT"
ENTITY = "WANDB_ENTITY"
RUN_ID = "WANDB_RUN_ID"
NAME = "WANDB_NAME"
NOTES = "WANDB_NOTES"
TAGS = "WANDB_TAGS"
RUN_GROUP = "WANDB_RUN_GROUP"
JOB_TYPE = "WANDB_JOB_TYPE"
RESUME = "WANDB_RESUME"
SILENT = "WANDB_SILENT"


def set_project(value, env=None):
    (os.environ if env is None else env)[PROJECT] = value or "uncategorized"


def set_entity(value, env=None):
    (os.environ if env is None else env)[ENTITY] = value


def get_dir(default=None, env=None):
    return (os.environ if env is None else env).get(DIR, default)


def get_project(default=None, env=None):
    return (os.environ if env is None else env).get(PROJECT, default)


def get_entity(default=None, env=None):
    return (os.environ if env is None else env).get(ENTITY, default)
