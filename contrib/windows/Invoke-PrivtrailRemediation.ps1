#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    The endpoint half of privtrail's Windows remediation: checks a signed privtrail webhook and
    ends the local administrator grant it names, on this machine only.

.DESCRIPTION
    privtrail has no agent on endpoints. When a local Administrators membership outlives its
    promise (overdue-elevation) and remediation is enabled, privtrail sends a signed webhook to
    the RMM or automation that manages the host. The RMM runs this script on that host with the
    request's body and headers:

      X-Privtrail-Timestamp: <unix seconds>
      X-Privtrail-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

    The script refuses a body whose signature does not match, whose timestamp is more than
    -MaxSkewSeconds away, that names another host, a group other than Administrators
    (S-1-5-32-544), or a member that is not a SID. It never runs code taken from the body: the
    body's `powershell` field shows a person what will happen; this script does the same thing
    itself through Remove-TemporaryAdmin.ps1 (Remove-LocalGroupMember -Group
    (Get-LocalGroup -SID S-1-5-32-544) -Member <SID>, and the tag values removed).

    It prints one JSON line for the RMM to return to privtrail: {"status":"removed"|"refused",
    "reason":…, "host":…, "member_sid":…, "action_id":…}. Exit code 0 when removed, 2 when
    refused.

.EXAMPLE
    .\Invoke-PrivtrailRemediation.ps1 -Body $body -Timestamp $headers['X-Privtrail-Timestamp'] `
        -Signature $headers['X-Privtrail-Signature'] -SecretFile C:\ProgramData\Org\privtrail-webhook.key
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string] $Body,

    [Parameter(Mandatory = $true)]
    [string] $Timestamp,

    [Parameter(Mandatory = $true)]
    [string] $Signature,

    # A file holding the webhook channel's secret (readable by administrators only).
    [Parameter(Mandatory = $true)]
    [string] $SecretFile,

    [ValidateRange(30, 3600)]
    [int] $MaxSkewSeconds = 300,

    [string] $RemoveScript = (Join-Path -Path $PSScriptRoot -ChildPath 'Remove-TemporaryAdmin.ps1')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Write-Result {
    param([string] $Status, [string] $Reason, $Request)
    $out = [ordered]@{
        status     = $Status
        reason     = $Reason
        host       = [System.Net.Dns]::GetHostEntry([string]'localhost').HostName
        member_sid = $null
        action_id  = $null
    }
    if ($null -ne $Request) {
        foreach ($name in @('member_sid', 'action_id')) {
            $p = $Request.PSObject.Properties[$name]
            if ($null -ne $p) { $out[$name] = [string]$p.Value }
        }
    }
    $out | ConvertTo-Json -Compress
}

function Test-Signature {
    param([string] $Secret, [string] $Stamp, [string] $Payload, [string] $Given)
    $hmac = New-Object -TypeName System.Security.Cryptography.HMACSHA256 -ArgumentList (, [System.Text.Encoding]::UTF8.GetBytes($Secret))
    try {
        $mac = $hmac.ComputeHash([System.Text.Encoding]::UTF8.GetBytes("$Stamp.$Payload"))
    }
    finally {
        $hmac.Dispose()
    }
    $expected = 'sha256=' + (($mac | ForEach-Object { $_.ToString('x2') }) -join '')
    if ($expected.Length -ne $Given.Length) { return $false }
    # Constant time: look at every character whatever the first difference.
    $diff = 0
    for ($i = 0; $i -lt $expected.Length; $i++) {
        $diff = $diff -bor ([int][char]$expected[$i] -bxor [int][char]$Given[$i])
    }
    return ($diff -eq 0)
}

$secret = (Get-Content -Path $SecretFile -Raw).Trim()
if (-not (Test-Signature -Secret $secret -Stamp $Timestamp -Payload $Body -Given $Signature.Trim())) {
    Write-Result -Status 'refused' -Reason 'signature does not match' -Request $null
    exit 2
}
$stamp = 0L
if (-not [long]::TryParse($Timestamp, [ref] $stamp)) {
    Write-Result -Status 'refused' -Reason 'timestamp is not a number' -Request $null
    exit 2
}
$now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
if ([Math]::Abs($now - $stamp) -gt $MaxSkewSeconds) {
    Write-Result -Status 'refused' -Reason "timestamp is more than $MaxSkewSeconds s away" -Request $null
    exit 2
}

try {
    $request = $Body | ConvertFrom-Json
}
catch {
    Write-Result -Status 'refused' -Reason 'body is not JSON' -Request $null
    exit 2
}
$fqdn = [System.Net.Dns]::GetHostEntry([string]'localhost').HostName
$target = ([string]$request.host).ToLowerInvariant()
# The full name must match; a bare name only when the request gives no domain at all.
$isThisHost = ($target -eq $fqdn.ToLowerInvariant()) -or
    (($target -notmatch '\.') -and ($target -eq $env:COMPUTERNAME.ToLowerInvariant()))
if (-not $isThisHost) {
    Write-Result -Status 'refused' -Reason "addressed to $($request.host), not this machine" -Request $request
    exit 2
}
if ([string]$request.group_sid -ne 'S-1-5-32-544') {
    Write-Result -Status 'refused' -Reason 'only the local Administrators group (S-1-5-32-544) is handled' -Request $request
    exit 2
}
$memberSid = [string]$request.member_sid
if ($memberSid -notmatch '^S-1-[0-9]+(-[0-9]+)+$') {
    Write-Result -Status 'refused' -Reason 'member_sid is not a SID' -Request $request
    exit 2
}

& $RemoveScript -MemberSid $memberSid -Confirm:$false
Write-Result -Status 'removed' -Reason "removed from Administrators and tag cleared (alert $($request.alert_id))" -Request $request
exit 0
