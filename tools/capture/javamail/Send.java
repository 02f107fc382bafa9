// Send one message with Jakarta Mail's debug output on (mail.debug), for smtplogkit's captures.
// Usage: java -cp jakarta-mail.jar:jakarta-activation.jar Send.java HOST PORT MODE AUTH [USER PASSWORD]
// MODE is "starttls", "implicit" or "plain"; AUTH is "login" or "none".
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.util.Properties;

public class Send {
    public static void main(String[] args) throws Exception {
        String host = args[0], port = args[1], mode = args[2], auth = args[3];
        Properties props = new Properties();
        props.put("mail.smtp.host", host);
        props.put("mail.smtp.port", port);
        props.put("mail.smtp.connectiontimeout", "3000");
        props.put("mail.smtp.timeout", "3000");
        props.put("mail.smtp.auth", String.valueOf(auth.equals("login")));
        props.put("mail.smtp.auth.mechanisms", "LOGIN PLAIN");
        if (mode.equals("starttls")) {
            props.put("mail.smtp.starttls.enable", "true");
            props.put("mail.smtp.starttls.required", "true");
        }
        if (mode.equals("implicit")) {
            props.put("mail.smtp.ssl.enable", "true");
        }
        Session session = Session.getInstance(props);
        session.setDebug(true);
        session.setDebugOut(System.out);

        MimeMessage message = new MimeMessage(session);
        message.setFrom(new InternetAddress(args.length > 6 ? args[6] : "sender@capture.test"));
        message.setRecipient(Message.RecipientType.TO, new InternetAddress("rcpt@capture.test"));
        message.setSubject("capture");
        message.setText("Captured by smtplogkit tools/capture/javamail.");
        try {
            if (auth.equals("login")) {
                Transport.send(message, args[4], args[5]);
            } else {
                Transport.send(message);
            }
        } catch (MessagingException e) {
            // Printed the way most applications print a failed send.
            e.printStackTrace(System.out);
        }
    }
}
