<?php
// Send one message with PHPMailer's SMTPDebug output on, for smtplogkit's captures.
// Usage: php send.php HOST PORT MODE AUTH USER PASSWORD CAFILE LEVEL
// MODE is "starttls", "implicit" or "plain"; AUTH is "login" or "none"; CAFILE "-" trusts the system CAs only.
require '/usr/share/php/libphp-phpmailer/autoload.php';

use PHPMailer\PHPMailer\Exception;
use PHPMailer\PHPMailer\PHPMailer;

[, $host, $port, $mode, $auth, $user, $password, $cafile, $level] = $argv;

$mail = new PHPMailer(true);
$mail->isSMTP();
$mail->Host = $host;
$mail->Port = (int) $port;
$mail->SMTPDebug = (int) $level;
$mail->Timeout = 3;
$mail->getSMTPInstance()->Timelimit = 3;  // seconds to wait for a reply; PHPMailer's default is 300
$mail->SMTPAutoTLS = false;
if ($mode === 'implicit') {
    $mail->SMTPSecure = PHPMailer::ENCRYPTION_SMTPS;
} elseif ($mode === 'starttls') {
    $mail->SMTPSecure = PHPMailer::ENCRYPTION_STARTTLS;
}
if ($auth === 'login') {
    $mail->SMTPAuth = true;
    $mail->AuthType = 'LOGIN';
    $mail->Username = $user;
    $mail->Password = $password;
}
if ($cafile !== '-') {
    $mail->SMTPOptions = ['ssl' => ['cafile' => $cafile, 'verify_peer' => true, 'verify_peer_name' => true]];
}
$mail->setFrom('sender@capture.test');
$mail->addAddress('rcpt@capture.test');
$mail->Subject = 'capture';
$mail->Body = 'Captured by smtplogkit tools/capture/phpmailer.';

try {
    $mail->send();
    echo "Message has been sent\n";
} catch (Exception $e) {
    // Printed the way PHPMailer's own examples print a failed send.
    echo "Message could not be sent. Mailer Error: {$mail->ErrorInfo}\n";
}
