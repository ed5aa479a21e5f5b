"""Lake credentials as Hadoop ABFS settings, and the check that the ABFS connector is there.

Spark reads Azure through Hadoop's ``hadoop-azure`` connector (``abfss://``), which clusters
(Synapse, Databricks, HDInsight) ship and the pip ``pyspark`` package does not. lakeml never
downloads jars, so a Spark without the connector is refused with a hint instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lakeml.errors import ConfigError
from lakeml.storage.credentials import AzureCredentials
from lakeml.storage.uri import Location

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ABFS_CLASS = "org.apache.hadoop.fs.azurebfs.SecureAzureBlobFileSystem"
_SAS_PROVIDER = "org.apache.hadoop.fs.azurebfs.sas.FixedSASTokenProvider"
_CLIENT_CREDS = "org.apache.hadoop.fs.azurebfs.oauth2.ClientCredsTokenProvider"
_MSI = "org.apache.hadoop.fs.azurebfs.oauth2.MsiTokenProvider"


def dfs_host(account: str) -> str:
    """The ADLS Gen2 host of an account."""
    return f"{account}.dfs.core.windows.net"


def hadoop_uri(location: Location, account: str) -> str:
    """The ``abfss://container@account.dfs.core.windows.net/path`` URI Hadoop reads."""
    base = f"abfss://{location.container}@{dfs_host(account)}"
    return f"{base}/{location.path}" if location.path else base


def abfs_settings(creds: AzureCredentials, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Hadoop settings that give Spark the lake's credential (values include secrets: never print them).

    Account key: ``fs.azure.account.key.<host>``. SAS: the fixed-token provider. Microsoft Entra ID:
    OAuth with a service principal's client credentials when ``AZURE_CLIENT_ID``,
    ``AZURE_CLIENT_SECRET`` and ``AZURE_TENANT_ID`` are set, else the cluster's managed identity.

    Raises:
        ConfigError: a custom endpoint (Azurite, sovereign clouds), which ABFS cannot address here.
    """
    if creds.endpoint:
        raise ConfigError(f"The Spark backend reaches Azure through ABFS, which cannot use the custom endpoint "
                          f"{creds.endpoint!r}.",
                          hint="Use the Polars backend for this lake, or a lake in a public-cloud account.")
    host = dfs_host(creds.account_name)
    if creds.kind in ("account_key", "connection_string") and creds.account_key:
        return {f"fs.azure.account.auth.type.{host}": "SharedKey",
                f"fs.azure.account.key.{host}": creds.account_key.reveal()}
    if creds.sas_token:
        return {f"fs.azure.account.auth.type.{host}": "SAS",
                f"fs.azure.sas.token.provider.type.{host}": _SAS_PROVIDER,
                f"fs.azure.sas.fixed.token.{host}": creds.sas_token.reveal().lstrip("?")}
    variables = os.environ if env is None else env
    settings = {f"fs.azure.account.auth.type.{host}": "OAuth"}
    client, secret, tenant = (variables.get(k) for k in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"))
    if client and secret and tenant:
        settings.update({
            f"fs.azure.account.oauth.provider.type.{host}": _CLIENT_CREDS,
            f"fs.azure.account.oauth2.client.id.{host}": client,
            f"fs.azure.account.oauth2.client.secret.{host}": secret,
            f"fs.azure.account.oauth2.client.endpoint.{host}":
                f"https://login.microsoftonline.com/{tenant}/oauth2/token",
        })
    else:
        settings[f"fs.azure.account.oauth.provider.type.{host}"] = _MSI
    return settings


def has_abfs(spark: SparkSession) -> bool:
    """Whether the session's JVM has Hadoop's ABFS connector."""
    try:
        jvm = spark.sparkContext._jvm
        if jvm is None:  # no JVM gateway: nothing to ask
            return False
        jvm.java.lang.Class.forName(ABFS_CLASS)
    except Exception:  # py4j raises its own Java error type for ClassNotFoundException
        return False
    return True


def configure(spark: SparkSession, creds: AzureCredentials) -> None:
    """Give ``spark`` the lake's Azure credential, or refuse a Spark that lacks the connector.

    Raises:
        ConfigError: no ``hadoop-azure`` on this Spark, or an endpoint ABFS cannot use.
    """
    if not has_abfs(spark):
        raise ConfigError(
            f"This Spark cannot read Azure storage (account '{creds.account_name}'): it has no Hadoop ABFS "
            "connector (hadoop-azure), which the pip pyspark package does not include.",
            hint="Run on a cluster that ships hadoop-azure (Synapse, Databricks, HDInsight) and pass its session "
                 "with [[spark=spark|--backend spark there]], add the hadoop-azure jar to spark.jars, or use the "
                 "Polars backend for this lake.")
    for key, value in abfs_settings(creds).items():
        # runtime SQL conf entries that start with fs. reach every Hadoop file system Spark opens
        spark.conf.set(key, value)
