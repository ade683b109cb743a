#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Grants temporary local administrator rights and stamps the machine so that privtrail can tell
    when they were promised to end.

.DESCRIPTION
    Adds -Member to the local Administrators group (found by its SID, S-1-5-32-544, so the script
    works whatever the system language), writes the tag privtrail reads under
    HKLM\SOFTWARE\Org\AdminAccessAudit (LastAdminGranted, ExpiresAt, GrantedTo, GrantedToSid,
    GrantedBy, Ticket, Reason, Host), and registers a one-time scheduled task that runs
    Remove-TemporaryAdmin.ps1 as SYSTEM at the expiry.

    privtrail reads the tag from `reg query "HKLM\SOFTWARE\Org\AdminAccessAudit"` output or JSON
    (`privtrail ingest --format regtag`), and raises `overdue-elevation` when the membership is
    still there after ExpiresAt: the scheduled task did not run, or someone re-added the member.

    Times are written in UTC as yyyy-MM-ddTHH:mm:ssZ with the invariant culture, so the tag reads
    the same on every machine.

.EXAMPLE
    .\Grant-TemporaryAdmin.ps1 -Member 'CONTOSO\alice' -Hours 2 -Ticket CHG-4711 -Reason 'Install the ERP client'
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    # DOMAIN\user, user@domain, or a SID.
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string] $Member,

    [Parameter(Mandatory = $true)]
    [ValidateRange(1, 72)]
    [int] $Hours,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[A-Za-z0-9._/#-]{1,64}$')]
    [string] $Ticket,

    [ValidateLength(0, 512)]
    [string] $Reason = '',

    [string] $KeyPath = 'HKLM:\SOFTWARE\Org\AdminAccessAudit',

    [string] $RemoveScript = (Join-Path -Path $PSScriptRoot -ChildPath 'Remove-TemporaryAdmin.ps1')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$AdministratorsSid = 'S-1-5-32-544'
$TimeFormat = 'yyyy-MM-ddTHH:mm:ssZ'
$Invariant = [System.Globalization.CultureInfo]::InvariantCulture

function Resolve-MemberSid {
    param([Parameter(Mandatory = $true)][string] $Name)
    if ($Name -match '^S-1-[0-9-]+$') {
        return New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $Name
    }
    $account = New-Object -TypeName System.Security.Principal.NTAccount -ArgumentList $Name
    return $account.Translate([System.Security.Principal.SecurityIdentifier])
}

if (-not (Test-Path -Path $RemoveScript -PathType Leaf)) {
    throw "Remove-TemporaryAdmin.ps1 not found at ${RemoveScript}; without it nothing would end the grant."
}

$sid = Resolve-MemberSid -Name $Member
try {
    $memberName = $sid.Translate([System.Security.Principal.NTAccount]).Value
}
catch {
    $memberName = $Member
}
$granter = [System.Security.Principal.WindowsIdentity]::GetCurrent().Name
$hostName = [System.Net.Dns]::GetHostEntry([string]'localhost').HostName
$grantedAt = [DateTime]::UtcNow
$expiresAt = $grantedAt.AddHours($Hours)
$administrators = Get-LocalGroup -SID $AdministratorsSid

if ($PSCmdlet.ShouldProcess("$memberName ($($sid.Value))", "Add to $($administrators.Name) until $($expiresAt.ToString($TimeFormat, $Invariant))")) {
    try {
        Add-LocalGroupMember -Group $administrators -Member $sid.Value
    }
    catch [Microsoft.PowerShell.Commands.MemberExistsException] {
        Write-Warning "$memberName is already a member of $($administrators.Name); the tag and the expiry task are renewed."
    }

    # The tag, in the order `reg query` lists it (creation order).
    if (-not (Test-Path -Path $KeyPath)) {
        New-Item -Path $KeyPath -Force | Out-Null
    }
    $values = [ordered]@{
        LastAdminGranted = $grantedAt.ToString($TimeFormat, $Invariant)
        ExpiresAt        = $expiresAt.ToString($TimeFormat, $Invariant)
        GrantedTo        = $memberName
        GrantedToSid     = $sid.Value
        GrantedBy        = $granter
        Ticket           = $Ticket
        Reason           = $Reason
        Host             = $hostName
    }
    foreach ($name in $values.Keys) {
        New-ItemProperty -Path $KeyPath -Name $name -Value $values[$name] -PropertyType String -Force | Out-Null
    }

    # Removal at expiry, as SYSTEM, whether or not anyone is logged on.
    $arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}" -MemberSid {1}' -f $RemoveScript, $sid.Value
    $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument $arguments
    $trigger = New-ScheduledTaskTrigger -Once -At $expiresAt.ToLocalTime()
    $principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
    $settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
    Register-ScheduledTask -TaskName "privtrail-revoke-$($sid.Value)" -TaskPath '\Org\' -Action $action `
        -Trigger $trigger -Principal $principal -Settings $settings -Force | Out-Null

    [pscustomobject]@{
        Member    = $memberName
        MemberSid = $sid.Value
        Group     = $administrators.Name
        ExpiresAt = $values.ExpiresAt
        Ticket    = $Ticket
    }
}
